# The C speedup's interface (lib/mlmesh/_eventscan.c).
class EventScan:
    def __init__(self, id_chars: bytes, actions: int, devices: int, max_record_id: int,
                 max_user_id: int, max_short: int, max_attributes: int, max_key: int,
                 max_value: int, max_amount: float, max_future_skew_s: float,
                 max_event_age_s: float) -> None: ...
    def scan(self, value: bytes, now_s: float) -> int | None: ...
