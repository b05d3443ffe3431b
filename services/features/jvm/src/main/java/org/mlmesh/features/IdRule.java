package org.mlmesh.features;

import java.io.Serializable;

/**
 * The mesh's id rule (an ASCII alphabet and a maximum length), handed in by the
 * job from {@code mlmesh.ids} so that it is stated in one place only.
 */
public final class IdRule implements Serializable {
  private static final long serialVersionUID = 1L;

  private final boolean[] allowed = new boolean[128];
  private final int max;
  private final String text;

  /**
   * @param chars every allowed character (ASCII only)
   * @param max the most characters an id may have
   * @param text the rule as error messages state it, e.g. "must match [A-Za-z0-9_.:-]{1,64}"
   */
  public IdRule(String chars, int max, String text) {
    if (chars == null || chars.isEmpty() || max < 1 || text == null) {
      throw new IllegalArgumentException("IdRule needs an alphabet, a maximum length and a text");
    }
    for (int i = 0; i < chars.length(); i++) {
      char c = chars.charAt(i);
      if (c >= 128) {
        throw new IllegalArgumentException("IdRule alphabet must be ASCII, got U+" + (int) c);
      }
      allowed[c] = true;
    }
    this.max = max;
    this.text = text;
  }

  /** True when {@code s} is 1..max characters of the alphabet. */
  public boolean test(String s) {
    int n = s.length();
    if (n == 0 || n > max) {
      return false;
    }
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c >= 128 || !allowed[c]) {
        return false;
      }
    }
    return true;
  }

  public String text() {
    return text;
  }
}
