package org.mlmesh.features;

import java.time.Instant;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.TableFunction;
import org.apache.flink.types.Row;

/**
 * SQL table function: a UserEvent's bytes -> exactly one row, either the fields
 * the windows need or the error class and reason (the job dead-letters those).
 * Bad rows carry the Kafka record time as their time.
 */
@FunctionHint(output = @DataTypeHint(
    "ROW<error_class STRING, reason STRING, event_id STRING, user_id STRING, ts BIGINT, "
        + "slice_last BIGINT, action INT, amount DOUBLE>"))
public final class DecodeUserEvent extends TableFunction<Row> {
  private static final long serialVersionUID = 1L;

  private final IdRule users;

  public DecodeUserEvent(String idChars, int userIdMax, String userIdRule) {
    this.users = new IdRule(idChars, userIdMax, userIdRule);
  }

  public void eval(byte[] value, @DataTypeHint("TIMESTAMP_LTZ(3)") Instant recordTime) {
    Decoded d = Codec.decodeEvent(value, users);
    if (d.isOk()) {
      collect(Row.of(null, null, d.id, d.userId, d.ts, Codec.sliceLast(d.ts), d.action,
                     d.amount));
    } else {
      long ts = recordTime == null ? 0L : recordTime.toEpochMilli();
      collect(Row.of(d.errorClass, d.reason, null, null, ts, Codec.sliceLast(ts), 0, 0.0));
    }
  }
}
