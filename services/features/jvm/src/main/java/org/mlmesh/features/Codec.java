package org.mlmesh.features;

import com.google.protobuf.Descriptors.Descriptor;
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
    try {
      UserEvent msg = parse(data, EVENT, UserEvent::parseFrom, UserEvent.getDescriptor());
      checkCommon("event_id", msg.getEventId(), users, msg.getUserId(), "event_time",
                  msg.hasEventTime(), msg.getEventTime());
      if (!Double.isFinite(msg.getAmount())) {
        throw new Rejected("validation", "amount: must be finite");
      }
      int action = msg.getActionValue();
      if (action == 0) {
        throw new Rejected("validation", "action: required");
      }
      if (Action.forNumber(action) == null) {
        throw new Rejected("validation", "action: unknown enum value " + action);
      }
      return Decoded.ok(msg.getEventId(), msg.getUserId(), toMs(msg.getEventTime()),
                        action, msg.getAmount());
    } catch (Rejected r) {
      return r.decoded;
    }
  }

  public static Decoded decodeDocument(byte[] data, IdRule users) {
    try {
      Document msg = parse(data, DOCUMENT, Document::parseFrom, Document.getDescriptor());
      checkCommon("doc_id", msg.getDocId(), users, msg.getUserId(), "created_at",
                  msg.hasCreatedAt(), msg.getCreatedAt());
      return Decoded.ok(msg.getDocId(), msg.getUserId(), toMs(msg.getCreatedAt()), 0, 0.0);
    } catch (Rejected r) {
      return r.decoded;
    }
  }

  /** A rejected payload's verdict (no stack trace: bad records are data, not bugs). */
  private static final class Rejected extends Exception {
    private static final long serialVersionUID = 1L;
    final transient Decoded decoded;

    Rejected(String errorClass, String reason) {
      super(reason, null, false, false);
      this.decoded = Decoded.error(errorClass, reason);
    }
  }

  private interface Parser<T> {
    T parse(byte[] data) throws InvalidProtocolBufferException;
  }

  /** {@code data} as a {@code type}: empty, unparseable or badly tagged bytes are rejected. */
  private static <T> T parse(byte[] data, String type, Parser<T> parser, Descriptor descriptor)
      throws Rejected {
    if (data == null || data.length == 0) {
      throw new Rejected("decode", "empty payload, expected " + type);
    }
    T msg;
    try {
      msg = parser.parse(data);
    } catch (InvalidProtocolBufferException e) {
      throw new Rejected("decode", "not a valid " + type + ": " + e.getMessage());
    }
    if (!WireCheck.tagsWellFormed(data, descriptor)) {
      throw new Rejected("decode", "not a valid " + type + ": malformed field tag");
    }
    return msg;
  }

  /** The rules every input shares: its id, the user id, its time. */
  private static void checkCommon(String idField, String id, IdRule users, String userId,
                                  String timeField, boolean hasTime, Timestamp time)
      throws Rejected {
    if (id.isEmpty()) {
      throw new Rejected("validation", idField + ": required");
    }
    if (!users.test(userId)) {
      throw new Rejected("validation", "user_id: " + users.text());
    }
    String timeError = timeError(timeField, hasTime, time);
    if (timeError != null) {
      throw new Rejected("validation", timeError);
    }
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
