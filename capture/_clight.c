/* The C form of the lightweight @task wrapper (capture/_task.py: _wrap_light).
 *
 * A lightweight task records one tuple per call: (code, spec index, kwargs or None,
 * result, run id, then the positional arguments). In Python the wrapper frame, the packing of
 * arguments and the tuple display cost about as much as the call it wraps; here the call goes
 * through vectorcall and the record is built directly. Same record, same rules:
 *   - the wrapped function's exception propagates unchanged and nothing is recorded;
 *   - nothing is recorded when capture is disabled;
 *   - with no sink or no run yet, the Python fallback (which creates them) records it.
 * The record is untracked by the garbage collector: nothing refers to it but the
 * buffer, so it cannot be part of a cycle, and a collection need not walk it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

typedef struct {
    PyObject_HEAD
    PyObject *fn;        /* the decorated function */
    PyObject *state;     /* capture._state.state: .put (the sink's append) and .run */
    PyObject *settings;  /* kg.config.settings: .enabled */
    PyObject *code;      /* the expander code of lightweight records */
    PyObject *idx;       /* the TaskSpec's index */
    PyObject *fallback;  /* fallback(result, args, kwargs): the slow path (no sink or no run yet) */
    PyObject *dict;      /* __dict__: functools.update_wrapper puts __name__, __wrapped__... here */
    vectorcallfunc vectorcall;
} LightTask;

static PyObject *s_put, *s_run, *s_id, *s_enabled, *s_empty, *s_qualname;

static PyObject *kwargs_dict(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nkw == 0) {
        Py_RETURN_NONE;
    }
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        if (PyDict_SetItem(d, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static int record(LightTask *self, PyObject *result, PyObject *const *args, Py_ssize_t nargs,
                  PyObject *kwnames) {
    PyObject *enabled = PyObject_GetAttr(self->settings, s_enabled);
    if (enabled == NULL) return -1;
    int on = PyObject_IsTrue(enabled);
    Py_DECREF(enabled);
    if (on <= 0) return on;
    PyObject *put = PyObject_GetAttr(self->state, s_put);
    if (put == NULL) return -1;
    PyObject *kwargs = kwargs_dict(args, nargs, kwnames);
    if (kwargs == NULL) { Py_DECREF(put); return -1; }
    int rc = -1;
    if (put == Py_None) {  /* first record of the process: the Python side makes the sink */
        PyObject *pargs = PyTuple_New(nargs);
        if (pargs != NULL) {
            for (Py_ssize_t i = 0; i < nargs; i++) {
                Py_INCREF(args[i]);
                PyTuple_SET_ITEM(pargs, i, args[i]);
            }
            PyObject *r = PyObject_CallFunctionObjArgs(self->fallback, result, pargs, kwargs, NULL);
            Py_DECREF(pargs);
            if (r != NULL) { Py_DECREF(r); rc = 0; }
        }
        Py_DECREF(kwargs);
        Py_DECREF(put);
        return rc;
    }
    PyObject *run = PyObject_GetAttr(self->state, s_run);
    PyObject *rid = NULL;
    if (run != NULL) {
        if (run == Py_None) {
            rid = s_empty;
            Py_INCREF(rid);
        } else {
            rid = PyObject_GetAttr(run, s_id);
        }
        Py_DECREF(run);
    }
    if (rid != NULL) {
        PyObject *rec = PyTuple_New(5 + nargs);
        if (rec != NULL) {
            Py_INCREF(self->code); PyTuple_SET_ITEM(rec, 0, self->code);
            Py_INCREF(self->idx); PyTuple_SET_ITEM(rec, 1, self->idx);
            PyTuple_SET_ITEM(rec, 2, kwargs); kwargs = NULL;
            Py_INCREF(result); PyTuple_SET_ITEM(rec, 3, result);
            PyTuple_SET_ITEM(rec, 4, rid); rid = NULL;
            for (Py_ssize_t i = 0; i < nargs; i++) {
                Py_INCREF(args[i]);
                PyTuple_SET_ITEM(rec, 5 + i, args[i]);
            }
            PyObject_GC_UnTrack(rec);
            PyObject *r = PyObject_CallOneArg(put, rec);
            Py_DECREF(rec);
            if (r != NULL) { Py_DECREF(r); rc = 0; }
        }
    }
    Py_XDECREF(rid);
    Py_XDECREF(kwargs);
    Py_DECREF(put);
    return rc;
}

static PyObject *LightTask_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    LightTask *self = (LightTask *)obj;
    PyObject *result = PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
    if (result == NULL) return NULL;  /* the function's exception, unchanged; nothing recorded */
    if (record(self, result, args, PyVectorcall_NARGS(nargsf), kwnames) < 0)
        PyErr_Clear();  /* capture never raises into the program */
    return result;
}

static int LightTask_init(LightTask *self, PyObject *args, PyObject *kwds) {
    if (!PyArg_ParseTuple(args, "OOOOOO", &self->fn, &self->state, &self->settings, &self->code, &self->idx,
                          &self->fallback))
        return -1;
    Py_INCREF(self->fn); Py_INCREF(self->state); Py_INCREF(self->settings);
    Py_INCREF(self->code); Py_INCREF(self->idx); Py_INCREF(self->fallback);
    self->vectorcall = LightTask_vectorcall;
    return 0;
}

static int LightTask_traverse(LightTask *self, visitproc visit, void *arg) {
    Py_VISIT(self->fn); Py_VISIT(self->state); Py_VISIT(self->settings); Py_VISIT(self->fallback);
    Py_VISIT(self->dict);
    return 0;
}

static int LightTask_clear(LightTask *self) {
    Py_CLEAR(self->fn); Py_CLEAR(self->state); Py_CLEAR(self->settings); Py_CLEAR(self->code);
    Py_CLEAR(self->idx); Py_CLEAR(self->fallback); Py_CLEAR(self->dict);
    return 0;
}

static void LightTask_dealloc(LightTask *self) {
    PyObject_GC_UnTrack(self);
    LightTask_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A method when looked up on a class instance, as the Python function it replaces. */
static PyObject *LightTask_get(PyObject *self, PyObject *obj, PyObject *type) {
    if (obj == NULL || obj == Py_None) {
        Py_INCREF(self);
        return self;
    }
    return PyMethod_New(self, obj);
}

/* Pickled by name, like a function (multiprocessing, Dask). */
static PyObject *LightTask_reduce(PyObject *self, PyObject *unused) {
    return PyObject_GetAttr(self, s_qualname);
}

static PyMethodDef LightTask_methods[] = {
    {"__reduce__", LightTask_reduce, METH_NOARGS, NULL},
    {NULL}
};

static PyGetSetDef LightTask_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict},
    {NULL}
};

static PyTypeObject LightTaskType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "capture._clight.LightTask",
    .tp_basicsize = sizeof(LightTask),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A lightweight @task: calls the function and records (inputs, output) in one tuple.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)LightTask_init,
    .tp_dealloc = (destructor)LightTask_dealloc,
    .tp_traverse = (traverseproc)LightTask_traverse,
    .tp_clear = (inquiry)LightTask_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(LightTask, vectorcall),
    .tp_dictoffset = offsetof(LightTask, dict),
    .tp_descr_get = LightTask_get,
    .tp_methods = LightTask_methods,
    .tp_getset = LightTask_getset,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_clight", "C form of the lightweight @task wrapper.",
                                    -1, NULL};

PyMODINIT_FUNC PyInit__clight(void) {
    if (PyType_Ready(&LightTaskType) < 0) return NULL;
    s_put = PyUnicode_InternFromString("put");
    s_run = PyUnicode_InternFromString("run");
    s_id = PyUnicode_InternFromString("id");
    s_enabled = PyUnicode_InternFromString("enabled");
    s_empty = PyUnicode_InternFromString("");
    s_qualname = PyUnicode_InternFromString("__qualname__");
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&LightTaskType);
    if (PyModule_AddObject(m, "LightTask", (PyObject *)&LightTaskType) < 0) {
        Py_DECREF(&LightTaskType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
