package org.mlmesh.features;

import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs {@link Codec} outside Flink, for tests/unit/features/test_jvm_codec.py.
 *
 * <p>{@code CodecCheck event|document CHARS MAX RULE} reads records from stdin
 * (a big-endian int length, -1 for null, then the bytes) and prints one JSON
 * object per record. {@code CodecCheck feature-update} reads lines of
 * {@code user TAB view TAB start TAB end TAB max-or-dash TAB name=value,...}
 * and prints each FeatureUpdate's bytes in hex.
 */
public final class CodecCheck {
  private CodecCheck() {}

  public static void main(String[] args) throws IOException {
    if (args.length == 1 && args[0].equals("feature-update")) {
      encode();
      return;
    }
    if (args.length != 4 || !(args[0].equals("event") || args[0].equals("document"))) {
      System.err.println("usage: CodecCheck event|document ID_CHARS USER_ID_MAX USER_ID_RULE"
                         + " | CodecCheck feature-update");
      System.exit(2);
    }
    boolean events = args[0].equals("event");
    IdRule users = new IdRule(args[1], Integer.parseInt(args[2]), args[3]);
    DataInputStream in = new DataInputStream(System.in);
    PrintStream out = new PrintStream(new BufferedOutputStream(System.out), false,
                                      StandardCharsets.UTF_8);
    while (true) {
      int n;
      try {
        n = in.readInt();
      } catch (EOFException e) {
        break;
      }
      byte[] data = null;
      if (n >= 0) {
        data = new byte[n];
        in.readFully(data);
      }
      Decoded d = events ? Codec.decodeEvent(data, users) : Codec.decodeDocument(data, users);
      StringBuilder sb = new StringBuilder(128).append('{');
      field(sb, "error_class", d.errorClass).append(',');
      field(sb, "reason", d.reason).append(',');
      field(sb, "id", d.id).append(',');
      field(sb, "user_id", d.userId).append(',');
      sb.append("\"ts\":").append(d.ts).append(",\"slice_last\":")
          .append(d.isOk() ? Codec.sliceLast(d.ts) : 0).append(",\"action\":").append(d.action)
          .append(",\"amount\":\"").append(Double.toString(d.amount)).append("\"}");
      out.println(sb);
    }
    out.flush();
  }

  private static void encode() throws IOException {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in,
                                                                 StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(new BufferedOutputStream(System.out), false,
                                      StandardCharsets.UTF_8);
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      String[] f = line.split("\t", -1);
      Map<String, Double> values = new LinkedHashMap<>();
      for (String pair : f[5].isEmpty() ? new String[0] : f[5].split(",")) {
        String[] kv = pair.split("=", 2);
        values.put(kv[0], kv[1].equals("null") ? null : Double.valueOf(kv[1]));
      }
      Long max = f[4].equals("-") ? null : Long.valueOf(f[4]);
      byte[] bytes = Codec.featureUpdate(f[0], f[1], Long.parseLong(f[2]), Long.parseLong(f[3]),
                                         values, max, 1_000L);
      StringBuilder hex = new StringBuilder(bytes.length * 2);
      for (byte b : bytes) {
        hex.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
      }
      out.println(hex);
    }
    out.flush();
  }

  private static StringBuilder field(StringBuilder sb, String name, String value) {
    sb.append('"').append(name).append("\":");
    if (value == null) {
      return sb.append("null");
    }
    sb.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c < 0x20 || c > 0x7e) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.append('"');
  }
}
