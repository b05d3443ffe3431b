/* A fast accept path for ingest's UserEvent validation, on the encoded bytes
 * (optional: without this module ingest runs the same rules in Python alone).
 *
 * EventScan(...)(value, now_s) reads a serialized mlmesh.events.v1.UserEvent
 * once, straight off the wire, and returns the record's time in epoch
 * milliseconds when it can prove the event valid under the same rules as
 * ingest.validation.validate_event; otherwise None, and the caller runs the
 * Python validator, which is the one source of the rules' wording. So this
 * scanner only ever accepts: anything unusual (a repeated field, an odd wire
 * type, a string longer in bytes than its limit in characters, nanos out of
 * range) is left to Python. tests/unit/ingest/test_eventscan.py checks that
 * it never accepts what the Python validator rejects.
 *
 * The enum sets and limits come from Python (built from the generated enum
 * and ingest's Limits), so nothing here restates a schema value.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    uint64_t actions;      /* bit v set: enum value v accepted (0..63) */
    uint64_t devices;
    unsigned char id_char[256];  /* the id alphabet (mlmesh.ids.ID_CHARS) */
    Py_ssize_t max_record_id, max_user_id, max_short, max_attributes;
    Py_ssize_t max_key, max_value;
    double max_amount, max_future_skew_s, max_event_age_s;
} EventScan;


static int varint(const unsigned char *p, Py_ssize_t n, Py_ssize_t *pos, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *pos < n; shift += 7) {
        unsigned char b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) { *out = v; return 1; }
    }
    return 0;
}

/* A length-delimited field's payload: start and length, bounds checked. */
static int delimited(const unsigned char *p, Py_ssize_t n, Py_ssize_t *pos,
                     Py_ssize_t *start, Py_ssize_t *len) {
    uint64_t l;
    if (!varint(p, n, pos, &l) || l > (uint64_t)(n - *pos)) return 0;
    *start = *pos; *len = (Py_ssize_t)l; *pos += (Py_ssize_t)l;
    return 1;
}

static int skip(const unsigned char *p, Py_ssize_t n, Py_ssize_t *pos, int wire) {
    uint64_t v; Py_ssize_t s, l;
    switch (wire) {
    case 0: return varint(p, n, pos, &v);
    case 1: if (n - *pos < 8) return 0; *pos += 8; return 1;
    case 2: return delimited(p, n, pos, &s, &l);
    case 5: if (n - *pos < 4) return 0; *pos += 4; return 1;
    default: return 0;  /* groups: not in this schema */
    }
}

static int is_id(const EventScan *self, const unsigned char *s, Py_ssize_t len,
                 Py_ssize_t max) {
    if (len < 1 || len > max) return 0;
    for (Py_ssize_t i = 0; i < len; i++) if (!self->id_char[s[i]]) return 0;
    return 1;
}

/* google.protobuf.Timestamp: seconds (1, int64), nanos (2, int32); last wins. */
static int timestamp(const unsigned char *p, Py_ssize_t n, int64_t *seconds, int64_t *nanos) {
    Py_ssize_t pos = 0;
    uint64_t key, v;
    *seconds = 0; *nanos = 0;
    while (pos < n) {
        if (!varint(p, n, &pos, &key)) return 0;
        int wire = (int)(key & 7);
        uint64_t number = key >> 3;
        if ((number == 1 || number == 2) && wire == 0) {
            if (!varint(p, n, &pos, &v)) return 0;
            if (number == 1) *seconds = (int64_t)v;
            else *nanos = (int64_t)(int32_t)(uint32_t)v;
        } else if (number == 0 || !skip(p, n, &pos, wire)) {
            return 0;
        }
    }
    return 1;
}

/* One map<string, string> entry: key (1) and value (2) within their limits. */
static int attribute(const EventScan *self, const unsigned char *p, Py_ssize_t n) {
    Py_ssize_t pos = 0, s, l;
    uint64_t key;
    while (pos < n) {
        if (!varint(p, n, &pos, &key)) return 0;
        uint64_t number = key >> 3;
        if ((number == 1 || number == 2) && (key & 7) == 2) {
            if (!delimited(p, n, &pos, &s, &l)) return 0;
            if (l > (number == 1 ? self->max_key : self->max_value)) return 0;
        } else {
            return 0;
        }
    }
    return 1;
}

#define SEEN(f) do { if (seen & (1u << (f))) Py_RETURN_NONE; seen |= 1u << (f); } while (0)

static PyObject *scan(EventScan *self, PyObject *const *args, Py_ssize_t nargs) {
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    Py_RETURN_NONE;  /* the double below is read little-endian: leave it all to Python */
#endif
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "scan(value: bytes, now_s: float)");
        return NULL;
    }
    double now_s = PyFloat_AsDouble(args[1]);
    if (now_s == -1.0 && PyErr_Occurred()) return NULL;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]), pos = 0, s, l;
    unsigned int seen = 0;
    Py_ssize_t attributes = 0;
    int64_t seconds = 0, nanos = 0;
    uint64_t key, v, action = 0, device = 0;
    double amount = 0.0;
    while (pos < n) {
        if (!varint(p, n, &pos, &key)) Py_RETURN_NONE;
        uint64_t number = key >> 3;
        int wire = (int)(key & 7);
        switch (number) {
        case 1: case 2: case 6: case 7:  /* event_id, user_id, item_id, session_id */
            if (wire != 2) Py_RETURN_NONE;
            SEEN(number);
            if (!delimited(p, n, &pos, &s, &l)) Py_RETURN_NONE;
            if (number == 1 ? !is_id(self, p + s, l, self->max_record_id)
                : number == 2 ? !is_id(self, p + s, l, self->max_user_id)
                : l > self->max_short) Py_RETURN_NONE;
            break;
        case 3:  /* event_time */
            if (wire != 2) Py_RETURN_NONE;
            SEEN(3);
            if (!delimited(p, n, &pos, &s, &l) || !timestamp(p + s, l, &seconds, &nanos))
                Py_RETURN_NONE;
            break;
        case 4: case 8:  /* action, device */
            if (wire != 0) Py_RETURN_NONE;
            SEEN(number);
            if (!varint(p, n, &pos, &v)) Py_RETURN_NONE;
            if (number == 4) action = v; else device = v;
            break;
        case 5:  /* amount */
            if (wire != 1 || n - pos < 8) Py_RETURN_NONE;
            SEEN(5);
            memcpy(&amount, p + pos, 8);
            pos += 8;
            break;
        case 9:  /* attributes: one entry per occurrence */
            if (wire != 2 || !delimited(p, n, &pos, &s, &l) || !attribute(self, p + s, l))
                Py_RETURN_NONE;
            if (++attributes > self->max_attributes) Py_RETURN_NONE;
            break;
        default:  /* ingest_time and unknown fields: not checked, only skipped */
            if (number == 0 || !skip(p, n, &pos, wire)) Py_RETURN_NONE;
        }
    }
    if (!(seen & (1u << 1)) || !(seen & (1u << 2))) Py_RETURN_NONE;
    if (action > 63 || !(self->actions >> action & 1)) Py_RETURN_NONE;
    if (device > 63 || !(self->devices >> device & 1)) Py_RETURN_NONE;
    if (!(amount >= 0.0 && amount <= self->max_amount)) Py_RETURN_NONE;  /* NaN fails too */
    if (nanos < 0 || seconds > (1LL << 52) || seconds < -(1LL << 52)) Py_RETURN_NONE;
    double t = (double)seconds;
    if (self->max_future_skew_s < t - now_s + 1.0 || t < now_s - self->max_event_age_s)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(seconds * 1000 + nanos / 1000000);
}

static int init(EventScan *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"id_chars", "actions", "devices", "max_record_id", "max_user_id",
                            "max_short", "max_attributes", "max_key", "max_value",
                            "max_amount", "max_future_skew_s", "max_event_age_s", NULL};
    unsigned long long actions, devices;
    const char *chars;
    Py_ssize_t nchars;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "y#KKnnnnnnddd", names, &chars, &nchars, &actions, &devices,
            &self->max_record_id, &self->max_user_id, &self->max_short, &self->max_attributes,
            &self->max_key, &self->max_value, &self->max_amount, &self->max_future_skew_s,
            &self->max_event_age_s))
        return -1;
    memset(self->id_char, 0, sizeof self->id_char);
    for (Py_ssize_t i = 0; i < nchars; i++) self->id_char[(unsigned char)chars[i]] = 1;
    self->actions = actions;
    self->devices = devices;
    return 0;
}


static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(value, now_s) -> the event's time in epoch ms if provably valid, else None"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject EventScanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlmesh._eventscan.EventScan",
    .tp_basicsize = sizeof(EventScan),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A fast, accept-only UserEvent validator on the encoded bytes.",
    .tp_methods = methods,
    .tp_init = (initproc)init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_eventscan", .m_size = -1,
};

PyMODINIT_FUNC PyInit__eventscan(void) {
    if (PyType_Ready(&EventScanType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "EventScan", (PyObject *)&EventScanType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
