/* One batch's delivery reports for ingest's publisher (optional: without this
 * module ingest.publisher.Outcome does the same in Python).
 *
 * Deliveries(statuses, errors, partitions, offsets, done, accepted, throttled):
 * ``slot(i)`` is record i's on_delivery callback: it writes the record's status
 * and partition/offset (or its error) into the batch's lists and counts it;
 * ``settle()`` counts a record that needs no report; ``done()`` runs once all
 * are counted. The same as Outcome.ack, without a Python frame per record.
 * Callbacks run under the GIL, so the count needs no lock.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    PyObject_HEAD
    PyObject *statuses, *errors, *partitions, *offsets, *done, *accepted, *throttled;
    Py_ssize_t total, count;
} Deliveries;

typedef struct {
    PyObject_HEAD
    Deliveries *owner;
    Py_ssize_t index;
} Slot;

static PyTypeObject DeliveriesType, SlotType;
static PyObject *str_partition, *str_offset, *str_str, *zero;

static PyObject *count_one(Deliveries *self) {
    if (self->count < self->total && ++self->count == self->total) {
        PyObject *r = PyObject_CallNoArgs(self->done);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}

/* list[i] = value, stealing the reference to value. */
static int put(PyObject *list, Py_ssize_t i, PyObject *value) {
    if (value == NULL) return -1;
    return PyList_SetItem(list, i, value);
}

static PyObject *number_or_zero(PyObject *msg, PyObject *method) {
    PyObject *v = PyObject_CallMethodNoArgs(msg, method);
    if (v == Py_None) { Py_DECREF(v); Py_INCREF(zero); return zero; }
    return v;
}

static PyObject *slot_call(Slot *self, PyObject *args, PyObject *kwargs) {
    PyObject *err, *msg;
    if (kwargs != NULL || !PyArg_UnpackTuple(args, "on_delivery", 2, 2, &err, &msg)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "on_delivery(err, msg)");
        return NULL;
    }
    Deliveries *d = self->owner;
    Py_ssize_t i = self->index;
    if (err == Py_None) {
        if (put(d->partitions, i, number_or_zero(msg, str_partition)) < 0 ||
            put(d->offsets, i, number_or_zero(msg, str_offset)) < 0)
            return NULL;
        Py_INCREF(d->accepted);
        if (PyList_SetItem(d->statuses, i, d->accepted) < 0) return NULL;
    } else {
        PyObject *text = PyObject_CallMethodNoArgs(err, str_str);
        if (text == NULL) return NULL;
        PyObject *reason = PyUnicode_FromFormat("kafka delivery failed: %S; retry", text);
        Py_DECREF(text);
        if (put(d->errors, i, reason) < 0) return NULL;
        Py_INCREF(d->throttled);
        if (PyList_SetItem(d->statuses, i, d->throttled) < 0) return NULL;
    }
    return count_one(d);
}

static void slot_dealloc(Slot *self) {
    Py_XDECREF(self->owner);
    PyObject_Free(self);
}

static PyObject *deliveries_slot(Deliveries *self, PyObject *arg) {
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (i < 0 || i >= self->total) {
        PyErr_SetString(PyExc_IndexError, "record index out of range");
        return NULL;
    }
    Slot *slot = PyObject_New(Slot, &SlotType);
    if (slot == NULL) return NULL;
    Py_INCREF(self);
    slot->owner = self;
    slot->index = i;
    return (PyObject *)slot;
}

static PyObject *deliveries_settle(Deliveries *self, PyObject *Py_UNUSED(ignored)) {
    return count_one(self);
}

static int deliveries_init(Deliveries *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"statuses", "errors", "partitions", "offsets", "done", "accepted",
                            "throttled", NULL};
    PyObject *lists[4], *done, *accepted, *throttled;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!O!O!OOO", names, &PyList_Type,
                                     &lists[0], &PyList_Type, &lists[1], &PyList_Type, &lists[2],
                                     &PyList_Type, &lists[3], &done, &accepted, &throttled))
        return -1;
    Py_ssize_t n = PyList_GET_SIZE(lists[0]);
    for (int k = 1; k < 4; k++) {
        if (PyList_GET_SIZE(lists[k]) != n) {
            PyErr_SetString(PyExc_ValueError, "the four lists must have the same length");
            return -1;
        }
    }
    PyObject **fields[] = {&self->statuses, &self->errors, &self->partitions, &self->offsets,
                           &self->done, &self->accepted, &self->throttled};
    PyObject *values[] = {lists[0], lists[1], lists[2], lists[3], done, accepted, throttled};
    for (int k = 0; k < 7; k++) {
        Py_INCREF(values[k]);
        Py_XSETREF(*fields[k], values[k]);
    }
    self->total = n;
    self->count = 0;
    return 0;
}

static int deliveries_traverse(Deliveries *self, visitproc visit, void *arg) {
    Py_VISIT(self->statuses); Py_VISIT(self->errors); Py_VISIT(self->partitions);
    Py_VISIT(self->offsets); Py_VISIT(self->done); Py_VISIT(self->accepted);
    Py_VISIT(self->throttled);
    return 0;
}

static int deliveries_clear(Deliveries *self) {
    Py_CLEAR(self->statuses); Py_CLEAR(self->errors); Py_CLEAR(self->partitions);
    Py_CLEAR(self->offsets); Py_CLEAR(self->done); Py_CLEAR(self->accepted);
    Py_CLEAR(self->throttled);
    return 0;
}

static void deliveries_dealloc(Deliveries *self) {
    PyObject_GC_UnTrack(self);
    deliveries_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef deliveries_methods[] = {
    {"slot", (PyCFunction)deliveries_slot, METH_O, "slot(i) -> record i's on_delivery callback"},
    {"settle", (PyCFunction)deliveries_settle, METH_NOARGS, "count a record needing no report"},
    {NULL, NULL, 0, NULL},
};

static PyObject *deliveries_counted(Deliveries *self, void *Py_UNUSED(closure)) {
    return PyLong_FromSsize_t(self->count);
}

static PyGetSetDef deliveries_getset[] = {
    {"counted", (getter)deliveries_counted, NULL, "records reported or settled so far", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject DeliveriesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlmesh._deliveries.Deliveries",
    .tp_basicsize = sizeof(Deliveries),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One batch's delivery reports, written into its lists.",
    .tp_methods = deliveries_methods,
    .tp_getset = deliveries_getset,
    .tp_init = (initproc)deliveries_init,
    .tp_new = PyType_GenericNew,
    .tp_traverse = (traverseproc)deliveries_traverse,
    .tp_clear = (inquiry)deliveries_clear,
    .tp_dealloc = (destructor)deliveries_dealloc,
};

static PyTypeObject SlotType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlmesh._deliveries.Slot",
    .tp_basicsize = sizeof(Slot),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One record's on_delivery callback.",
    .tp_call = (ternaryfunc)slot_call,
    .tp_dealloc = (destructor)slot_dealloc,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_deliveries", .m_size = -1,
};

PyMODINIT_FUNC PyInit__deliveries(void) {
    str_partition = PyUnicode_InternFromString("partition");
    str_offset = PyUnicode_InternFromString("offset");
    str_str = PyUnicode_InternFromString("str");
    zero = PyLong_FromLong(0);
    if (!str_partition || !str_offset || !str_str || !zero) return NULL;
    if (PyType_Ready(&DeliveriesType) < 0 || PyType_Ready(&SlotType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Deliveries", (PyObject *)&DeliveriesType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
