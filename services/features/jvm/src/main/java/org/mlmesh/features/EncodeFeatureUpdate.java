package org.mlmesh.features;

import java.util.Map;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * SQL scalar function: one window result -> FeatureUpdate bytes, stamped with
 * the emission time (so not deterministic: the planner must not fold or reuse it).
 */
public final class EncodeFeatureUpdate extends ScalarFunction {
  private static final long serialVersionUID = 1L;

  public byte[] eval(String userId, String view, Long windowStartMs, Long windowEndMs,
                     @DataTypeHint("MAP<STRING, DOUBLE>") Map<String, Double> values,
                     Long maxEventMs) {
    return Codec.featureUpdate(userId, view, windowStartMs, windowEndMs, values, maxEventMs,
                               System.currentTimeMillis());
  }

  @Override
  public boolean isDeterministic() {
    return false;
  }
}
