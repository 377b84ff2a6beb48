/* The C forms of the @task wrappers (capture/_task.py: _wrap_light, and _wrap_full below).
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
 * A record whose values are all atoms gets the code ``plain_code``: the embedded store keeps
 * it as it is (kg.segments); the others, whose values are summarised first, get ``code``.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <time.h>

typedef struct {
    PyObject_HEAD
    PyObject *fn;        /* the decorated function */
    PyObject *state;     /* capture._state.state: .put (the sink's append) and .run */
    PyObject *settings;  /* kg.config.settings: .enabled */
    PyObject *code;      /* the expander code of lightweight records */
    PyObject *plain_code; /* ... of those whose values are all atoms */
    PyObject *idx;       /* the TaskSpec's index */
    PyObject *fallback;  /* fallback(result, args, kwargs): the slow path (no sink or no run yet) */
    PyObject *check;     /* check(): called every 1024 records (capture._state.check_pressure) */
    unsigned long calls;
    PyObject *last_run;  /* the run of the previous record (held, so its address is not reused) ... */
    PyObject *last_rid;  /* ... and its id: a run's id never changes */
    PyObject *dict;      /* __dict__: functools.update_wrapper puts __name__, __wrapped__... here */
    vectorcallfunc vectorcall;
} LightTask;

static PyObject *s_put, *s_run, *s_id, *s_enabled, *s_empty, *s_qualname;

/* The types ``marshal`` writes as they are (capture.values.ATOMIC): exact types only. */
static int is_atom(PyObject *v) {
    PyTypeObject *t = Py_TYPE(v);
    return t == &PyLong_Type || t == &PyFloat_Type || t == &PyUnicode_Type || v == Py_None || t == &PyBool_Type
           || t == &PyBytes_Type || t == &PyComplex_Type;
}

static int all_atoms(PyObject *result, PyObject *const *args, Py_ssize_t n) {
    if (!is_atom(result)) return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (!is_atom(args[i])) return 0;
    return 1;
}

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
        } else if (run == self->last_run) {
            rid = Py_NewRef(self->last_rid);
        } else {
            rid = PyObject_GetAttr(run, s_id);
            if (rid != NULL) {
                Py_XSETREF(self->last_run, Py_NewRef(run));
                Py_XSETREF(self->last_rid, Py_NewRef(rid));
            }
        }
        Py_DECREF(run);
    }
    if (rid != NULL) {
        PyObject *rec = PyTuple_New(5 + nargs);
        if (rec != NULL) {
            /* keyword values follow the positional ones in args */
            Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
            PyObject *code = all_atoms(result, args, nargs + nkw) ? self->plain_code : self->code;
            Py_INCREF(code); PyTuple_SET_ITEM(rec, 0, code);
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
            if (r != NULL) {
                Py_DECREF(r);
                rc = 0;
                if (!(++self->calls & 1023)) {  /* wake the flush thread, or drain past the cap */
                    r = PyObject_CallNoArgs(self->check);
                    if (r == NULL) rc = -1; else Py_DECREF(r);
                }
            }
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
    if (!PyArg_ParseTuple(args, "OOOOOOOO", &self->fn, &self->state, &self->settings, &self->code,
                          &self->plain_code, &self->idx, &self->fallback, &self->check))
        return -1;
    Py_INCREF(self->fn); Py_INCREF(self->state); Py_INCREF(self->settings);
    Py_INCREF(self->code); Py_INCREF(self->plain_code); Py_INCREF(self->idx); Py_INCREF(self->fallback);
    Py_INCREF(self->check);
    self->calls = 0;
    self->last_run = self->last_rid = NULL;
    self->vectorcall = LightTask_vectorcall;
    return 0;
}

static int LightTask_traverse(LightTask *self, visitproc visit, void *arg) {
    Py_VISIT(self->fn); Py_VISIT(self->state); Py_VISIT(self->settings); Py_VISIT(self->fallback);
    Py_VISIT(self->check); Py_VISIT(self->last_run);
    Py_VISIT(self->dict);
    return 0;
}

static int LightTask_clear(LightTask *self) {
    Py_CLEAR(self->fn); Py_CLEAR(self->state); Py_CLEAR(self->settings); Py_CLEAR(self->code);
    Py_CLEAR(self->plain_code); Py_CLEAR(self->check); Py_CLEAR(self->last_run); Py_CLEAR(self->last_rid);
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

/* ------------------------------------------------------------------------------------------
 * The C form of the full @task wrapper (capture/_task.py: _wrap_full), for the common call:
 * a plain (not async) function, no args_handler, every argument an atom, a run and a sink in
 * place. Every other call goes to the Python wrapper (``fallback``), which is the reference:
 * the record is the same tuple, (code, spec index, n, parent, run id, t0, t1, kwargs or None,
 * result, exception, None, *args). In Python this wrapper costs ~1.2 µs a call; here ~0.3.
 *   - nesting: the ContextVar ``parent_var`` holds the running task's number, as in Python;
 *   - dataflow: capture._dataflow's may_link/link before the call, remember/produced after
 *     (their frame depth is 1 here: no wrapper frame between them and the caller);
 *   - the function's exception is recorded, then propagates unchanged;
 *   - a fault of capture itself never reaches the program: the call goes on unrecorded.
 * ---------------------------------------------------------------------------------------- */
typedef struct {
    PyObject_HEAD
    PyObject *fn, *state, *settings, *code, *idx, *out_name, *parent_var, *fallback, *check;
    PyObject *may_link, *link, *remember, *produced, *snap;
    PyObject *last_run, *last_rid;  /* as in LightTask: a run's id never changes */
    PyObject *dict;
    vectorcallfunc vectorcall;
} FullTask;

static PyObject *s_counter, *s_part, *s_depth1;

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);  /* time.time()'s clock */
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* (cargs, ckw) after the dataflow check: new references. */
static int linked(FullTask *self, PyObject **cargs, PyObject **ckw) {
    PyObject *pair[2] = {*cargs, *ckw};
    PyObject *may = PyObject_Vectorcall(self->may_link, pair, 2, NULL);
    if (may == NULL) return -1;
    int yes = PyObject_IsTrue(may);
    Py_DECREF(may);
    if (yes <= 0) return yes;
    PyObject *call[3] = {*cargs, *ckw, s_depth1};
    PyObject *r = PyObject_Vectorcall(self->link, call, 3, NULL);
    if (r == NULL) return -1;
    if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2) { Py_DECREF(r); PyErr_SetString(PyExc_TypeError, "link"); return -1; }
    Py_SETREF(*cargs, Py_NewRef(PyTuple_GET_ITEM(r, 0)));
    Py_SETREF(*ckw, Py_NewRef(PyTuple_GET_ITEM(r, 1)));
    Py_DECREF(r);
    return 0;
}

/* The record (code, idx, n, parent, rid, t0, t1, ckw, result, exc, None, *cargs), untracked. */
static PyObject *full_record(FullTask *self, PyObject *n, PyObject *parent, PyObject *rid, double t0, double t1,
                             PyObject *ckw, PyObject *result, PyObject *exc, PyObject *cargs) {
    Py_ssize_t na = PyTuple_GET_SIZE(cargs);
    PyObject *rec = PyTuple_New(11 + na);
    PyObject *a = PyFloat_FromDouble(t0), *b = PyFloat_FromDouble(t1);
    if (rec == NULL || a == NULL || b == NULL) { Py_XDECREF(rec); Py_XDECREF(a); Py_XDECREF(b); return NULL; }
    PyObject *items[11] = {self->code, self->idx, n, parent, rid, a, b, ckw, result, exc, Py_None};
    for (int i = 0; i < 11; i++) PyTuple_SET_ITEM(rec, i, i == 5 || i == 6 ? items[i] : Py_NewRef(items[i]));
    for (Py_ssize_t i = 0; i < na; i++) PyTuple_SET_ITEM(rec, 11 + i, Py_NewRef(PyTuple_GET_ITEM(cargs, i)));
    PyObject_GC_UnTrack(rec);  /* only the buffer refers to it */
    return rec;
}

static PyObject *FullTask_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    FullTask *self = (FullTask *)obj;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf), nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *run = NULL, *put = NULL, *rid = NULL, *cargs = NULL, *ckw = NULL, *counter = NULL, *n = NULL;
    PyObject *parent = NULL, *token = NULL;
    int fast = 0;
    {
        PyObject *enabled = PyObject_GetAttr(self->settings, s_enabled);
        int on = enabled ? PyObject_IsTrue(enabled) : -1;
        Py_XDECREF(enabled);
        if (on == 0) return PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
        if (on < 0) { PyErr_Clear(); return PyObject_Vectorcall(self->fn, args, nargsf, kwnames); }
    }
    for (Py_ssize_t i = 0; i < nargs + nkw; i++)
        if (!is_atom(args[i])) goto slow;
    run = PyObject_GetAttr(self->state, s_run);
    put = run ? PyObject_GetAttr(self->state, s_put) : NULL;
    if (run == NULL || put == NULL || run == Py_None || put == Py_None) { PyErr_Clear(); goto slow; }
    if (run == self->last_run) {
        rid = Py_NewRef(self->last_rid);
    } else {
        rid = PyObject_GetAttr(run, s_id);
        if (rid == NULL) { PyErr_Clear(); goto slow; }
        Py_XSETREF(self->last_run, Py_NewRef(run));
        Py_XSETREF(self->last_rid, Py_NewRef(rid));
    }
    cargs = PyTuple_New(nargs);
    for (Py_ssize_t i = 0; cargs != NULL && i < nargs; i++) PyTuple_SET_ITEM(cargs, i, Py_NewRef(args[i]));
    ckw = kwargs_dict(args, nargs, kwnames);
    if (cargs == NULL || ckw == NULL || linked(self, &cargs, &ckw) < 0) goto fault;
    counter = PyObject_GetAttr(self->state, s_counter);  /* replaced after a fork: read each call */
    n = counter ? PyIter_Next(counter) : NULL;
    if (n == NULL) goto fault;
    if (PyContextVar_Get(self->parent_var, NULL, &parent) < 0) goto fault;
    if (parent == NULL || !PyObject_IsTrue(parent)) {
        Py_XSETREF(parent, PyObject_GetAttr(run, s_part));
        if (parent == NULL) goto fault;
    }
    token = PyContextVar_Set(self->parent_var, n);
    if (token == NULL) goto fault;
    fast = 1;
fault:
    if (!fast) {  /* capture could not record this call: the call itself goes on */
        PyErr_Clear();
        PyObject *r = PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
        Py_XDECREF(run); Py_XDECREF(put); Py_XDECREF(rid); Py_XDECREF(cargs); Py_XDECREF(ckw);
        Py_XDECREF(counter); Py_XDECREF(n); Py_XDECREF(parent);
        return r;
    }
    double t0 = wall_now();
    PyObject *result = PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
    double t1 = wall_now();
    PyObject *rec = NULL;
    if (result == NULL) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (tb != NULL && value != NULL) PyException_SetTraceback(value, tb);
        if (PyContextVar_Reset(self->parent_var, token) == 0 && value != NULL)
            rec = full_record(self, n, parent, rid, t0, t1, ckw, Py_None, value, cargs);
        if (rec != NULL) {
            PyObject *r = PyObject_CallOneArg(put, rec);
            Py_XDECREF(r);
        }
        Py_XDECREF(rec);
        PyErr_Clear();  /* a capture fault is dropped; the program's exception goes on */
        PyErr_Restore(type, value, tb);
    } else {
        PyObject *cres = NULL;
        if (PyContextVar_Reset(self->parent_var, token) == 0) {
            if (is_atom(result)) {
                cres = Py_NewRef(result);
                PyObject *call[4] = {result, n, self->out_name, s_depth1};
                PyObject *done = PyObject_Vectorcall(self->remember, call, 3, NULL);
                int ok = done ? PyObject_IsTrue(done) : -1;
                Py_XDECREF(done);
                if (ok == 0) {
                    PyObject *r = PyObject_Vectorcall(self->produced, call, 4, NULL);
                    if (r == NULL) ok = -1; else { Py_DECREF(r); ok = 1; }
                }
                if (ok < 0) PyErr_Clear();
            } else {
                PyObject *call[2] = {result, n};
                cres = PyObject_Vectorcall(self->snap, call, 2, NULL);
            }
        }
        if (cres != NULL) rec = full_record(self, n, parent, rid, t0, t1, ckw, cres, Py_None, cargs);
        Py_XDECREF(cres);
        if (rec != NULL) {
            PyObject *r = PyObject_CallOneArg(put, rec);
            Py_XDECREF(r);
            Py_DECREF(rec);
            if (r != NULL && !(PyLong_AsLong(n) & 1023)) {  /* wake the flush thread, or drain past the cap */
                r = PyObject_CallNoArgs(self->check);
                Py_XDECREF(r);
            }
        }
        PyErr_Clear();  /* capture never raises into the program */
    }
    Py_DECREF(run); Py_DECREF(put); Py_DECREF(rid); Py_DECREF(cargs); Py_DECREF(ckw);
    Py_DECREF(counter); Py_DECREF(n); Py_DECREF(parent); Py_DECREF(token);
    return result;
slow:
    Py_XDECREF(run); Py_XDECREF(put);
    return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
}

static int FullTask_init(FullTask *self, PyObject *args, PyObject *kwds) {
    PyObject **f[] = {&self->fn, &self->state, &self->settings, &self->code, &self->idx, &self->out_name,
                      &self->parent_var, &self->fallback, &self->check, &self->may_link, &self->link,
                      &self->remember, &self->produced, &self->snap};
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOO", f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9],
                          f[10], f[11], f[12], f[13]))
        return -1;
    if (!PyContextVar_CheckExact(self->parent_var)) {
        PyErr_SetString(PyExc_TypeError, "parent_var must be a ContextVar");
        return -1;
    }
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) Py_INCREF(*f[i]);
    self->last_run = self->last_rid = NULL;
    self->vectorcall = FullTask_vectorcall;
    return 0;
}

static int FullTask_traverse(FullTask *self, visitproc visit, void *arg) {
    Py_VISIT(self->fn); Py_VISIT(self->state); Py_VISIT(self->settings); Py_VISIT(self->fallback);
    Py_VISIT(self->check); Py_VISIT(self->may_link); Py_VISIT(self->link); Py_VISIT(self->remember);
    Py_VISIT(self->produced); Py_VISIT(self->snap); Py_VISIT(self->last_run); Py_VISIT(self->parent_var);
    Py_VISIT(self->dict);
    return 0;
}

static int FullTask_clear(FullTask *self) {
    Py_CLEAR(self->fn); Py_CLEAR(self->state); Py_CLEAR(self->settings); Py_CLEAR(self->code);
    Py_CLEAR(self->idx); Py_CLEAR(self->out_name); Py_CLEAR(self->parent_var); Py_CLEAR(self->fallback);
    Py_CLEAR(self->check); Py_CLEAR(self->may_link); Py_CLEAR(self->link); Py_CLEAR(self->remember);
    Py_CLEAR(self->produced); Py_CLEAR(self->snap); Py_CLEAR(self->last_run); Py_CLEAR(self->last_rid);
    Py_CLEAR(self->dict);
    return 0;
}

static void FullTask_dealloc(FullTask *self) {
    PyObject_GC_UnTrack(self);
    FullTask_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject FullTaskType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "capture._clight.FullTask",
    .tp_basicsize = sizeof(FullTask),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A @task: records the call (times, nesting, inputs, output or exception) in one tuple.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)FullTask_init,
    .tp_dealloc = (destructor)FullTask_dealloc,
    .tp_traverse = (traverseproc)FullTask_traverse,
    .tp_clear = (inquiry)FullTask_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(FullTask, vectorcall),
    .tp_dictoffset = offsetof(FullTask, dict),
    .tp_descr_get = LightTask_get,   /* binds as a method, pickles by name: as LightTask */
    .tp_methods = LightTask_methods,
    .tp_getset = LightTask_getset,
};

/* ------------------------------------------------------------------------------------------
 * The iterator of a LightweightLoop (capture/loops.py), in C. Per iteration it only counts,
 * keeps the item when the source cannot give it again (not a range, tuple or str), and files
 * the values end_iter() attached to the iteration that just ended. When the loop ends --
 * exhausted, left by break (the iterator is dropped), or by an exception -- it calls
 * finish(count, status) once: the Python side sends the batch and closes the Loop node.
 * ---------------------------------------------------------------------------------------- */
/* Where end_iter() leaves the values of the current iteration. Its own object, not the
   iterator: the Loop keeps end_iter bound to it, and the iterator must still die at `break`. */
typedef struct {
    PyObject_HEAD
    PyObject *value;
} Pending;

static PyObject *Pending_end_iter(Pending *self, PyObject *const *args, Py_ssize_t nargs) {
    PyObject *values = nargs ? args[0] : Py_None;
    int truthy = PyObject_IsTrue(values);
    if (truthy <= 0) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *copy;
    if (PyDict_CheckExact(values) && Py_REFCNT(values) == 1) {
        /* A temporary (end_iter({...})): the call holds the only reference, so nobody can change
           it later: keeping it is as good as a copy, and saves allocating one per iteration. */
        copy = values;
        Py_INCREF(copy);
    } else {
        copy = PyDict_CheckExact(values) ? PyDict_Copy(values) : PyObject_CallMethod(values, "copy", NULL);
    }
    if (copy == NULL) return NULL;  /* as values.copy() would raise in the Python form */
    /* Only the loop's lists refer to this copy, so no cycle runs through it: untracked, the
       collector does not walk a loop's worth of kept values at every collection. */
    if (PyDict_CheckExact(copy)) PyObject_GC_UnTrack(copy);
    Py_XSETREF(self->value, copy);
    Py_RETURN_NONE;
}

static int Pending_traverse(Pending *self, visitproc visit, void *arg) {
    Py_VISIT(self->value);
    return 0;
}

static int Pending_clear(Pending *self) {
    Py_CLEAR(self->value);
    return 0;
}

static void Pending_dealloc(Pending *self) {
    PyObject_GC_UnTrack(self);
    Pending_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Pending_methods[] = {
    {"end_iter", (PyCFunction)(void (*)(void))Pending_end_iter, METH_FASTCALL,
     "Attach values produced by the current iteration (its generated)."},
    {NULL}
};

static PyTypeObject PendingType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "capture._clight.Pending",
    .tp_basicsize = sizeof(Pending),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The values end_iter() attached to the current iteration of a LightweightLoop.",
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Pending_dealloc,
    .tp_traverse = (traverseproc)Pending_traverse,
    .tp_clear = (inquiry)Pending_clear,
    .tp_methods = Pending_methods,
};

typedef struct {
    PyObject_HEAD
    PyObject *source;   /* iterator over the items */
    PyObject *items;    /* list of the items, or None */
    PyObject *vi;       /* indices of iterations with values */
    PyObject *vv;       /* their values (shallow copies) */
    PyObject *finish;   /* finish(count, status) */
    Pending *pending;   /* values of the current iteration, from end_iter() */
    Py_ssize_t i;       /* index of the current iteration (-1 before the first) */
    int done;
} LoopIter;

static PyObject *s_finished_status, *s_exited_status;

static int file_pending(LoopIter *self) {
    PyObject *v = self->pending->value;
    if (v == NULL || self->i < 0) return 0;
    PyObject *idx = PyLong_FromSsize_t(self->i);
    int rc = idx == NULL ? -1 : PyList_Append(self->vi, idx);
    Py_XDECREF(idx);
    if (rc == 0) rc = PyList_Append(self->vv, v);
    Py_CLEAR(self->pending->value);
    return rc;
}

static void end_loop(LoopIter *self, PyObject *status) {
    if (self->done) return;
    self->done = 1;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);  /* the loop's own exception, if any, goes on unchanged */
    if (file_pending(self) < 0) PyErr_Clear();
    PyObject *count = PyLong_FromSsize_t(self->i + 1);
    if (count != NULL) {
        PyObject *r = PyObject_CallFunctionObjArgs(self->finish, count, status, NULL);
        Py_XDECREF(r);
        Py_DECREF(count);
    }
    PyErr_Clear();  /* capture never raises into the program */
    PyErr_Restore(type, value, tb);
}

static PyObject *LoopIter_next(LoopIter *self) {
    if (self->done) return NULL;
    if (file_pending(self) < 0) PyErr_Clear();
    PyObject *item = PyIter_Next(self->source);
    if (item == NULL) {
        end_loop(self, PyErr_Occurred() ? s_exited_status : s_finished_status);
        return NULL;
    }
    self->i++;
    if (self->items != Py_None && PyList_Append(self->items, item) < 0) PyErr_Clear();
    return item;
}

static int LoopIter_init(LoopIter *self, PyObject *args, PyObject *kwds) {
    if (!PyArg_ParseTuple(args, "OOO!O!OO!", &self->source, &self->items, &PyList_Type, &self->vi, &PyList_Type,
                          &self->vv, &self->finish, &PendingType, &self->pending))
        return -1;
    Py_INCREF(self->source); Py_INCREF(self->items); Py_INCREF(self->vi); Py_INCREF(self->vv);
    Py_INCREF(self->finish); Py_INCREF(self->pending);
    self->i = -1;
    return 0;
}

static void LoopIter_finalize(LoopIter *self) {
    if (!self->done && self->finish != NULL)
        end_loop(self, s_exited_status);  /* dropped before the end: break, or an exception in the body */
}

static int LoopIter_traverse(LoopIter *self, visitproc visit, void *arg) {
    Py_VISIT(self->source); Py_VISIT(self->items); Py_VISIT(self->vi); Py_VISIT(self->vv);
    Py_VISIT(self->finish); Py_VISIT(self->pending);
    return 0;
}

static int LoopIter_clear(LoopIter *self) {
    Py_CLEAR(self->source); Py_CLEAR(self->items); Py_CLEAR(self->vi); Py_CLEAR(self->vv);
    Py_CLEAR(self->finish); Py_CLEAR(self->pending);
    return 0;
}

static void LoopIter_dealloc(LoopIter *self) {
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0) return;  /* resurrected */
    PyObject_GC_UnTrack(self);
    LoopIter_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject LoopIterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "capture._clight.LoopIter",
    .tp_basicsize = sizeof(LoopIter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The iterator of a LightweightLoop.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)LoopIter_init,
    .tp_dealloc = (destructor)LoopIter_dealloc,
    .tp_finalize = (destructor)LoopIter_finalize,
    .tp_traverse = (traverseproc)LoopIter_traverse,
    .tp_clear = (inquiry)LoopIter_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)LoopIter_next,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_clight", "C forms of the lightweight @task wrapper and the LightweightLoop iterator.",
                                    -1, NULL};

PyMODINIT_FUNC PyInit__clight(void) {
    if (PyType_Ready(&LightTaskType) < 0) return NULL;
    s_put = PyUnicode_InternFromString("put");
    s_run = PyUnicode_InternFromString("run");
    s_id = PyUnicode_InternFromString("id");
    s_enabled = PyUnicode_InternFromString("enabled");
    s_empty = PyUnicode_InternFromString("");
    s_qualname = PyUnicode_InternFromString("__qualname__");
    if (PyType_Ready(&LoopIterType) < 0 || PyType_Ready(&PendingType) < 0 || PyType_Ready(&FullTaskType) < 0)
        return NULL;
    s_counter = PyUnicode_InternFromString("counter");
    s_part = PyUnicode_InternFromString("part");
    s_depth1 = PyLong_FromLong(1);
    s_finished_status = PyUnicode_InternFromString("FINISHED");
    s_exited_status = PyUnicode_InternFromString("EXITED");
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&LoopIterType);
    if (PyModule_AddObject(m, "LoopIter", (PyObject *)&LoopIterType) < 0) return NULL;
    Py_INCREF(&PendingType);
    if (PyModule_AddObject(m, "Pending", (PyObject *)&PendingType) < 0) return NULL;
    Py_INCREF(&FullTaskType);
    if (PyModule_AddObject(m, "FullTask", (PyObject *)&FullTaskType) < 0) return NULL;
    Py_INCREF(&LightTaskType);
    if (PyModule_AddObject(m, "LightTask", (PyObject *)&LightTaskType) < 0) {
        Py_DECREF(&LightTaskType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
