package org.mlmesh.features;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import java.util.Map;
import mlmesh.events.v1.DocumentOuterClass.Document;
import mlmesh.events.v1.FeatureUpdateOuterClass.FeatureUpdate;
import mlmesh.events.v1.UserEventOuterClass.Action;
import mlmesh.events.v1.UserEventOuterClass.UserEvent;

/**
 * The job's payload rules, on the JVM so that no good record takes a Python
 * call. An event is accepted as ingest accepts it on these fields (same
 * reasons: event_id, user_id, event_time, amount, action; the id rule comes
 * from {@code mlmesh.ids}); tests/unit/features/test_jvm_codec.py holds it to
 * a plain-Python statement of the rules on valid, invalid and byte-mangled
 * inputs.
 */
public final class Codec {
  /** The finest window slide: lateness is judged per 1-minute slice. */
  public static final long SLICE_MS = 60_000L;
  /** 9999-12-31T23:59:59.999Z, the end of protobuf Timestamp's range. */
  public static final long MAX_TIME_MS = 253_402_300_799_999L;

  private static final String EVENT = "mlmesh.events.v1.UserEvent";
  private static final String DOCUMENT = "mlmesh.events.v1.Document";

  private Codec() {}

  /** Last millisecond of the 1-minute slice holding {@code tsMs}. */
  public static long sliceLast(long tsMs) {
    return (Math.floorDiv(tsMs, SLICE_MS) + 1) * SLICE_MS - 1;
  }

  public static Decoded decodeEvent(byte[] data, IdRule users) {
    if (data == null || data.length == 0) {
      return Decoded.error("decode", "empty payload, expected " + EVENT);
    }
    UserEvent msg;
    try {
      msg = UserEvent.parseFrom(data);
    } catch (InvalidProtocolBufferException e) {
      return Decoded.error("decode", "not a valid " + EVENT + ": " + e.getMessage());
    }
    if (!WireCheck.tagsWellFormed(data, UserEvent.getDescriptor())) {
      return Decoded.error("decode", "not a valid " + EVENT + ": malformed field tag");
    }
    if (msg.getEventId().isEmpty()) {
      return Decoded.error("validation", "event_id: required");
    }
    if (!users.test(msg.getUserId())) {
      return Decoded.error("validation", "user_id: " + users.text());
    }
    String timeError = timeError("event_time", msg.hasEventTime(), msg.getEventTime());
    if (timeError != null) {
      return Decoded.error("validation", timeError);
    }
    if (!Double.isFinite(msg.getAmount())) {
      return Decoded.error("validation", "amount: must be finite");
    }
    int action = msg.getActionValue();
    if (action == 0) {
      return Decoded.error("validation", "action: required");
    }
    if (Action.forNumber(action) == null) {
      return Decoded.error("validation", "action: unknown enum value " + action);
    }
    return Decoded.ok(msg.getEventId(), msg.getUserId(), toMs(msg.getEventTime()),
                      action, msg.getAmount());
  }

  public static Decoded decodeDocument(byte[] data, IdRule users) {
    if (data == null || data.length == 0) {
      return Decoded.error("decode", "empty payload, expected " + DOCUMENT);
    }
    Document msg;
    try {
      msg = Document.parseFrom(data);
    } catch (InvalidProtocolBufferException e) {
      return Decoded.error("decode", "not a valid " + DOCUMENT + ": " + e.getMessage());
    }
    if (!WireCheck.tagsWellFormed(data, Document.getDescriptor())) {
      return Decoded.error("decode", "not a valid " + DOCUMENT + ": malformed field tag");
    }
    if (msg.getDocId().isEmpty()) {
      return Decoded.error("validation", "doc_id: required");
    }
    if (!users.test(msg.getUserId())) {
      return Decoded.error("validation", "user_id: " + users.text());
    }
    String timeError = timeError("created_at", msg.hasCreatedAt(), msg.getCreatedAt());
    if (timeError != null) {
      return Decoded.error("validation", timeError);
    }
    return Decoded.ok(msg.getDocId(), msg.getUserId(), toMs(msg.getCreatedAt()), 0, 0.0);
  }

  /** Null when the time is usable; else the reason (after the field name). */
  private static String timeError(String field, boolean present, Timestamp ts) {
    if (!present) {
      return field + ": required";
    }
    long seconds = ts.getSeconds();
    if (seconds > MAX_TIME_MS / 1000 || seconds < -MAX_TIME_MS / 1000) {
      return field + ": out of range";
    }
    long ms = toMs(ts);
    if (ms <= 0) {
      return field + ": required";
    }
    if (ms > MAX_TIME_MS) {
      return field + ": out of range";
    }
    return null;
  }

  /** Epoch ms, nanos floored (as Python's {@code //}); seconds already range-checked. */
  static long toMs(Timestamp ts) {
    return ts.getSeconds() * 1000L + Math.floorDiv((long) ts.getNanos(), 1_000_000L);
  }

  private static Timestamp ts(long ms) {
    return Timestamp.newBuilder()
        .setSeconds(Math.floorDiv(ms, 1000L))
        .setNanos((int) Math.floorMod(ms, 1000L) * 1_000_000)
        .build();
  }

  /** A FeatureUpdate's bytes; a null value counts as 0, a null max event time is left unset. */
  public static byte[] featureUpdate(String userId, String view, long windowStartMs,
                                     long windowEndMs, Map<String, Double> values,
                                     Long maxEventMs, long emittedMs) {
    FeatureUpdate.Builder b = FeatureUpdate.newBuilder()
        .setUserId(userId)
        .setFeatureView(view)
        .setWindowStart(ts(windowStartMs))
        .setWindowEnd(ts(windowEndMs))
        .setEmittedAt(ts(emittedMs));
    if (values != null) {
      for (Map.Entry<String, Double> e : values.entrySet()) {
        Double v = e.getValue();
        b.putValues(e.getKey(), v == null ? 0.0 : v);
      }
    }
    if (maxEventMs != null) {
      b.setMaxEventTime(ts(maxEventMs));
    }
    return b.build().toByteArray();
  }
}
