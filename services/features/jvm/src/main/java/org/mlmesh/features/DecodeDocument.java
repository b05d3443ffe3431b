package org.mlmesh.features;

import java.time.Instant;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.TableFunction;
import org.apache.flink.types.Row;

/** SQL table function: a Document's bytes -> one row (see {@link DecodeUserEvent}). */
@FunctionHint(output = @DataTypeHint(
    "ROW<error_class STRING, reason STRING, doc_id STRING, user_id STRING, ts BIGINT, "
        + "slice_last BIGINT>"))
public final class DecodeDocument extends TableFunction<Row> {
  private static final long serialVersionUID = 1L;

  private final IdRule users;

  public DecodeDocument(String idChars, int userIdMax, String userIdRule) {
    this.users = new IdRule(idChars, userIdMax, userIdRule);
  }

  public void eval(byte[] value, @DataTypeHint("TIMESTAMP_LTZ(3)") Instant recordTime) {
    Decoded d = Codec.decodeDocument(value, users);
    if (d.isOk()) {
      collect(Row.of(null, null, d.id, d.userId, d.ts, Codec.sliceLast(d.ts)));
    } else {
      long ts = recordTime == null ? 0L : recordTime.toEpochMilli();
      collect(Row.of(d.errorClass, d.reason, null, null, ts, Codec.sliceLast(ts)));
    }
  }
}
