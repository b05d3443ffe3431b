package org.mlmesh.features;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;

/**
 * The tag rules protobuf-java's parser is lenient about: a tag is a varint of at
 * most 5 bytes holding a field number in 1..2^29-1. protobuf-java keeps the low
 * 32 bits of a longer tag and files the field as unknown, where upb (Python, the
 * rest of the mesh) rejects the message; checked here on the message and on
 * every nested message it knows the type of, so both agree on what decodes.
 */
final class WireCheck {
  private static final long MAX_FIELD = (1L << 29) - 1;

  private WireCheck() {}

  /** True when every tag is well formed (the parser checks everything else). */
  static boolean tagsWellFormed(byte[] data, Descriptor type) {
    return check(data, 0, data.length, type, 0);
  }

  private static boolean check(byte[] b, int pos, int end, Descriptor type, int depth) {
    if (depth > 100) {
      return true; // the parser's own recursion limit decides
    }
    while (pos < end) {
      long tag = 0;
      int shift = 0;
      int start = pos;
      while (true) {
        if (pos >= end || pos - start >= 5) {
          return pos >= end; // truncated: the parser rejects it; too long: reject
        }
        int x = b[pos++] & 0xff;
        tag |= (long) (x & 0x7f) << shift;
        shift += 7;
        if (x < 0x80) {
          break;
        }
      }
      long field = tag >>> 3;
      int wire = (int) (tag & 7);
      if (tag > 0xffffffffL || field < 1 || field > MAX_FIELD) {
        return false;
      }
      switch (wire) {
        case 0:
          while (pos < end && (b[pos] & 0x80) != 0) {
            pos++;
          }
          pos++;
          break;
        case 1:
          pos += 8;
          break;
        case 5:
          pos += 4;
          break;
        case 2: {
          long len = 0;
          shift = 0;
          while (pos < end && shift < 64) {
            int x = b[pos++] & 0xff;
            len |= (long) (x & 0x7f) << shift;
            shift += 7;
            if (x < 0x80) {
              break;
            }
          }
          if (len < 0 || len > end - pos) {
            return true; // malformed length: the parser rejects it
          }
          FieldDescriptor f = type == null ? null : type.findFieldByNumber((int) field);
          if (f != null && f.getJavaType() == FieldDescriptor.JavaType.MESSAGE
              && !check(b, pos, pos + (int) len, f.getMessageType(), depth + 1)) {
            return false;
          }
          pos += (int) len;
          break;
        }
        default:
          return true; // groups and invalid wire types: the parser decides
      }
    }
    return true;
  }
}
