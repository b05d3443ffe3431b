package org.mlmesh.features;

/**
 * One decoded record: either an error (class and reason, the rest unset) or the
 * fields the windows need. Documents leave {@code action} and {@code amount} at 0.
 */
public final class Decoded {
  public final String errorClass;
  public final String reason;
  public final String id;
  public final String userId;
  /** Event time, epoch ms. */
  public final long ts;
  public final int action;
  public final double amount;

  private Decoded(String errorClass, String reason, String id, String userId, long ts,
                  int action, double amount) {
    this.errorClass = errorClass;
    this.reason = reason;
    this.id = id;
    this.userId = userId;
    this.ts = ts;
    this.action = action;
    this.amount = amount;
  }

  static Decoded ok(String id, String userId, long ts, int action, double amount) {
    return new Decoded(null, null, id, userId, ts, action, amount);
  }

  static Decoded error(String errorClass, String reason) {
    return new Decoded(errorClass, reason, null, null, 0L, 0, 0.0);
  }

  public boolean isOk() {
    return errorClass == null;
  }
}
