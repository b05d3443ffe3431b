package org.mlmesh.features;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * SQL scalar function: TIMESTAMP(3) -> epoch milliseconds, exact. The job runs
 * with the session time zone UTC, so a TIMESTAMP (a window bound, or a
 * TIMESTAMP_LTZ cast to one) is the UTC wall time and its internal value is
 * the epoch milliseconds already. It replaces
 * {@code UNIX_TIMESTAMP(CAST(ts AS STRING)) * 1000}, which formatted and parsed
 * a string for every bound of every window result (about 6 % of the job's CPU
 * in a JFR profile) and kept whole seconds only.
 */
public final class EpochMillis extends ScalarFunction {
  private static final long serialVersionUID = 1L;

  public Long eval(@DataTypeHint(value = "TIMESTAMP(3)", bridgedTo = TimestampData.class)
                   TimestampData ts) {
    return ts == null ? null : ts.getMillisecond();
  }
}
