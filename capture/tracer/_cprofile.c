/* The C hot path of the sys.setprofile tracer (capture/tracer/_profile.py).
 *
 * A profile function written in Python costs a frame, an argument tuple and a
 * bytecode loop per event. This one is installed with PyEval_SetProfile and
 * handles the common events itself: a call or return of a (non-generator)
 * user function, and every event that is not recorded at all (library code
 * calling library code). Everything rarer -- generators, calls from user code
 * into libraries and builtins, the first sight of a code object -- goes to the
 * Python profile function of the same tracer, which shares this object's stack
 * (a list of entry lists, same layout as _profile.py) and generator table, so the
 * two halves can take turns on any event.
 *
 * Never raises into the program: any error is handed to tracer.fault(exc).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <time.h>

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
/* 3.11 and 3.12: read a call's arguments straight from the frame's fast locals. The public
   route, frame.f_locals, builds a dict of every local at each call (the largest cost per
   activation). */
#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE
#define HAVE_LOCALSPLUS 1
#endif

#if PY_VERSION_HEX < 0x030B0000
/* 3.10: no accessors for these yet; the attributes say the same */
static int PyFrame_GetLasti(PyFrameObject *frame) {
    PyObject *v = PyObject_GetAttrString((PyObject *)frame, "f_lasti");
    long r = v ? PyLong_AsLong(v) : -1;
    Py_XDECREF(v);
    PyErr_Clear();
    return (int)r;
}
static PyObject *PyCode_GetCode(PyCodeObject *code) {
    return PyObject_GetAttrString((PyObject *)code, "co_code");
}
#endif

/* Entry layout, as in _profile.py: KEY, N, PARENT, SITE, LINE, ARGS, T0, USER, REC */
enum { E_KEY, E_N, E_PARENT, E_SITE, E_LINE, E_ARGS, E_T0, E_USER, E_REC, E_LEN };
#define GEN_FLAGS (0x20 | 0x80 | 0x200)

/* What both tracers keep of a value on the hot path (summ_value in _common.py): borrowed refs. */
typedef struct {
    PyObject *atoms;       /* frozenset of atomic types */
    PyObject *copy_cls;    /* _Copy(tp, items) */
    PyObject *summ_value;  /* summ_value(v, vmode): everything else */
    PyObject *vmode;
    int full_values;       /* vmode == "full" */
    PyObject *plain;       /* capture.values._PLAIN: type -> its name if its objects are plain, or None */
    Py_ssize_t limit;      /* the repr limit */
} ValueRules;

typedef struct {
    PyObject_HEAD
    PyObject *pyprof;      /* the Python profile function: handles what this one passes on */
    PyObject *stack;       /* list of entries (shared with pyprof) */
    PyObject *gens;        /* dict: running generator frame -> entry (shared) */
    PyObject *codes;       /* dict: code -> Site or None (the classifier's cache) */
    PyObject *put;         /* the sink's deque.append */
    PyObject *run;         /* run id (str) */
    PyObject *nxt;         /* next activation number */
    PyObject *summ_value;  /* summ_value(v, vmode) */
    PyObject *vmode;
    PyObject *atoms;       /* frozenset of atomic types */
    PyObject *no_result;
    PyObject *act_code;
    PyObject *tracer;      /* for fault() and pressure() */
    PyObject *callable_site;  /* the classifier's callable_site(fn) */
    PyObject *copy_cls;    /* _Copy(tp, items): a small list or set of atoms, copied at call time */
    int full_values;       /* values == "full" (else "type": every non-atom goes to summ_value) */
    PyObject *plain;       /* capture.values._PLAIN */
    Py_ssize_t limit;
    PyObject *c_skip;      /* dict: C callable key -> True (never recorded) / False (pyprof records it) */
    int all_calls;
    PyObject *ev_names[7]; /* event strings for pyprof */
    long depth;
    int lib_calls;
    int keep_values;
    unsigned char return_op[256];
    Py_ssize_t records;
} CProfiler;

static PyObject *s_idx, *s_getter, *s_fault, *s_pressure, *s_finished, *s_error, *s_kind, *s_library;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The pending exception goes to tracer.fault(exc) (logged once, counted), never to the program. */
static void report_fault(PyObject *tracer) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL) {
        PyObject *r = PyObject_CallMethodOneArg(tracer, s_fault, value);
        Py_XDECREF(r);
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
}

static void fault(CProfiler *self) {
    report_fault(self->tracer);
}

static int delegate(CProfiler *self, PyFrameObject *frame, int what, PyObject *arg) {
    PyObject *r = PyObject_CallFunctionObjArgs(self->pyprof, (PyObject *)frame, self->ev_names[what],
                                               arg ? arg : Py_None, NULL);
    if (r == NULL)
        fault(self);
    Py_XDECREF(r);
    return 0;
}

static PyObject *top(CProfiler *self) {  /* borrowed: the innermost entry, or NULL */
    Py_ssize_t n = PyList_GET_SIZE(self->stack);
    return n ? PyList_GET_ITEM(self->stack, n - 1) : NULL;
}

static int is_atomic(const ValueRules *self, PyObject *v) {
    return PySet_Contains(self->atoms, (PyObject *)Py_TYPE(v)) == 1;
}

static ValueRules profiler_rules(CProfiler *p) {
    ValueRules r = {p->atoms, p->copy_cls, p->summ_value, p->vmode, p->full_values, p->plain, p->limit};
    return r;
}

static int all_atomic(const ValueRules *self, PyObject **items, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (!is_atomic(self, items[i])) return 0;
    return 1;
}

/* What the hot path keeps of a value (summ_value in _common.py, its common cases in C):
   atoms and small tuples of atoms by reference, small lists of atoms copied, the rest
   summarised by the Python function. New reference. */
static PyObject *s_type, *s_repr, *s_to_dict, *s_shape;

/* 1 if v has its own attribute `name` (the class has none: _plain_name checked), 0 if not, -1 on error. */
static int own_attr(PyObject *v, PyObject *name) {
    PyObject *found = NULL;
#if PY_VERSION_HEX >= 0x030D0000
    int rc = PyObject_GetOptionalAttr(v, name, &found);
#else
    int rc = _PyObject_LookupAttr(v, name, &found);
#endif
    Py_XDECREF(found);
    return rc;
}

/* capture.values._REPR_COST and _timed (load_values()): classes whose own __repr__ is being
   timed (a list), or over budget (a float: recorded by object.__repr__). */
static PyObject *g_repr_cost, *g_timed;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* repr(v) within the budget (capture.values._user_repr). New reference, NULL on error. */
static PyObject *user_repr(PyObject *v) {
    PyObject *cost = PyDict_GetItemWithError(g_repr_cost, (PyObject *)Py_TYPE(v));
    if (cost == NULL) {
        if (PyErr_Occurred()) return NULL;
        return PyObject_Repr(v);
    }
    if (PyFloat_CheckExact(cost)) return PyBaseObject_Type.tp_repr(v);
    Py_INCREF(cost);
    double t0 = mono();
    PyObject *r = PyObject_Repr(v);
    double dt = mono() - t0;
    if (r != NULL) {
        PyObject *ok = PyObject_CallFunction(g_timed, "OOd", (PyObject *)Py_TYPE(v), cost, dt);
        if (ok == NULL) Py_CLEAR(r);
        Py_XDECREF(ok);
    }
    Py_DECREF(cost);
    return r;
}

/* reprlib.Repr.repr_instance's cut of a long repr (capture.values._cut). Steals r. */
static PyObject *cut(PyObject *r, Py_ssize_t limit) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(r);
    if (n <= limit) return r;
    Py_ssize_t i = limit >= 3 ? (limit - 3) / 2 : 0, j = limit - 3 - i > 0 ? limit - 3 - i : 0;
    PyObject *head = PyUnicode_Substring(r, 0, i), *tail = PyUnicode_Substring(r, n - j, n);
    PyObject *out = NULL;
    if (head != NULL && tail != NULL) {
        PyObject *dots = PyUnicode_FromString("...");
        PyObject *a = dots ? PyUnicode_Concat(head, dots) : NULL;
        out = a ? PyUnicode_Concat(a, tail) : NULL;
        Py_XDECREF(dots);
        Py_XDECREF(a);
    }
    Py_XDECREF(head);
    Py_XDECREF(tail);
    Py_DECREF(r);
    return out;
}

#include "_crepr.h"

/* capture.values._handlers: a type with a handler of its own is never summarised here.
   capture.values._INSTANCE (type -> True if reprlib shows its objects by repr_instance) and
   _instance_kind(type), which decides it (and classifies the type as summarize() does). */
static PyObject *g_handlers, *g_instance, *g_instance_kind;

static PyObject *cr_instance(PyObject *x, Py_ssize_t limit) {
    PyObject *tp = (PyObject *)Py_TYPE(x);
    PyObject *kind = PyDict_GetItemWithError(g_instance, tp);  /* borrowed */
    if (kind == NULL) {
        if (PyErr_Occurred()) return NULL;
        kind = PyObject_CallOneArg(g_instance_kind, tp);
        if (kind == NULL) return NULL;
        Py_DECREF(kind);  /* a bool: immortal enough (True/False live for the process) */
    }
    if (kind != Py_True) return NULL;
    PyObject *r = user_repr(x);
    if (r == NULL) {
        PyErr_Clear();  /* a broken repr: the Python reprlib says so */
        return NULL;
    }
    return cut(r, limit);
}

/* capture.values' tables, shared with the Python summaries (taken once, at import: they are
   mutated in place, never replaced). */
static int load_values(void) {
    PyObject *values = PyImport_ImportModule("capture.values");
    if (values == NULL) return -1;
    g_repr_cost = PyObject_GetAttrString(values, "_REPR_COST");
    g_timed = PyObject_GetAttrString(values, "_timed");
    g_handlers = PyObject_GetAttrString(values, "_handlers");
    g_instance = PyObject_GetAttrString(values, "_INSTANCE");
    g_instance_kind = PyObject_GetAttrString(values, "_instance_kind");
    Py_DECREF(values);
    if (g_repr_cost == NULL || g_timed == NULL || g_handlers == NULL || g_instance == NULL || g_instance_kind == NULL)
        return -1;
    if (!PyDict_Check(g_repr_cost) || !PyDict_Check(g_handlers) || !PyDict_Check(g_instance)) {
        PyErr_SetString(PyExc_TypeError, "capture.values: _REPR_COST, _handlers and _INSTANCE must be dicts");
        return -1;
    }
    return 0;
}

/* summarize() of a builtin container (list, tuple, dict, set, frozenset) of builtin values, in C:
   {"type": name, "size": len, "repr": reprlib's}. NULL without an error: the Python path decides. */
static PyObject *container_summary(PyObject *v, Py_ssize_t limit) {
    PyTypeObject *t = Py_TYPE(v);
    if (!(t == &PyList_Type || t == &PyTuple_Type || t == &PyDict_Type || t == &PySet_Type ||
          t == &PyFrozenSet_Type))
        return NULL;
    if (PyDict_Contains(g_handlers, (PyObject *)t) != 0) {  /* a handler of its own (or an error): Python */
        PyErr_Clear();
        return NULL;
    }
    PyObject *r = cr_repr1(v, 3, limit);
    if (r == NULL) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *d = Py_BuildValue("{sssnsN}", "type", t->tp_name, "size", PyObject_Length(v), "repr", r);
    return d;
}

/* The summary of a plain object (capture.values.summarize's first case, in C): {"type": name,
   "repr": repr(v)} (a long repr cut as reprlib cuts it). NULL without an error: not known to be
   plain, or the general path must decide (a broken repr). */
static PyObject *plain_summary(const ValueRules *self, PyObject *v) {
    if (self->plain == NULL) return NULL;
    PyObject *name = PyDict_GetItemWithError(self->plain, (PyObject *)Py_TYPE(v));  /* borrowed */
    if (name == NULL || !PyUnicode_CheckExact(name)) {
        PyErr_Clear();
        return NULL;
    }
    if (!self->full_values)  /* values "type": a plain object has no size or shape to add */
        return Py_BuildValue("{OO}", s_type, name);
    int a = own_attr(v, s_to_dict), b = a == 0 ? own_attr(v, s_shape) : a;
    if (a != 0 || b != 0) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *r = user_repr(v);
    if (r == NULL) {
        PyErr_Clear();  /* a broken repr: summarize says what to keep */
        return NULL;
    }
    if ((r = cut(r, self->limit)) == NULL) return NULL;
    PyObject *d = PyDict_New();
    if (d == NULL || PyDict_SetItem(d, s_type, name) < 0 || PyDict_SetItem(d, s_repr, r) < 0) {
        Py_XDECREF(d);
        Py_DECREF(r);
        return NULL;
    }
    Py_DECREF(r);
    return d;
}

static PyObject *summ_one(const ValueRules *self, PyObject *v) {
    if (is_atomic(self, v)) {
        Py_INCREF(v);
        return v;
    }
    PyObject *fast = plain_summary(self, v);
    if (fast != NULL || PyErr_Occurred()) return fast;
    if (self->full_values) {
        if (PyTuple_CheckExact(v) && PyTuple_GET_SIZE(v) <= 16 &&
            all_atomic(self, &PyTuple_GET_ITEM(v, 0), PyTuple_GET_SIZE(v))) {
            Py_INCREF(v);
            return v;
        }
        if (PyList_CheckExact(v) && PyList_GET_SIZE(v) <= 16 &&
            all_atomic(self, PySequence_Fast_ITEMS(v), PyList_GET_SIZE(v))) {
            PyObject *items = PyList_AsTuple(v);
            if (items == NULL) return NULL;
            PyObject *r = PyObject_CallFunctionObjArgs(self->copy_cls, (PyObject *)&PyList_Type, items, NULL);
            Py_DECREF(items);
            return r;
        }
        /* a small set of atoms is copied, not summarised (summ_value's _Copy) */
        int small_set = (PyAnySet_CheckExact(v)) && PySet_GET_SIZE(v) <= 16;
        if (!small_set) {
            PyObject *d = container_summary(v, self->limit);
            if (d != NULL) return d;
        }
    }
    return PyObject_CallFunctionObjArgs(self->summ_value, v, self->vmode, NULL);
}

#ifdef HAVE_LOCALSPLUS
/* The arguments of a frame that has just started, in the order of code_argnames() (the
   site's argnames): its first fast-local slots. On 3.12 an argument that a closure uses is
   already in its cell (MAKE_CELL runs before the start event): the cell's content is the value. */
static int frame_args(PyFrameObject *frame, PyObject **out) {
    PyCodeObject *code = PyFrame_GetCode(frame);
    int n = code->co_argcount + code->co_kwonlyargcount + ((code->co_flags & CO_VARARGS) != 0) +
            ((code->co_flags & CO_VARKEYWORDS) != 0);
    *out = NULL;
    if (n > 0) {
        PyObject **slots = frame->f_frame->localsplus;
        const char *kinds = PyBytes_AS_STRING(code->co_localspluskinds);
        PyObject *args = PyTuple_New(n);
        if (args == NULL) { Py_DECREF(code); return -1; }
        for (int i = 0; i < n; i++) {
            PyObject *v = slots[i];
            if (v != NULL && (kinds[i] & 0x40) && PyCell_Check(v))  /* CO_FAST_CELL */
                v = PyCell_GET(v);
            if (v == NULL) v = Py_None;
            Py_INCREF(v);
            PyTuple_SET_ITEM(args, i, v);
        }
        *out = args;
    }
    Py_DECREF(code);
    return 0;
}
#endif

/* A stack entry (a list: the Python halves read and pop it too). Borrows key and parent
   (NULL: 0); steals n, site_idx and args (NULL: ()). rec = 0: an entry too deep to record,
   which only keeps its parent for the activations below it. */
static PyObject *new_entry(PyObject *key, PyObject *n, PyObject *parent, PyObject *site_idx, long line,
                           PyObject *args, double t0, int rec) {
    PyObject *entry = PyList_New(E_LEN);
    if (parent == NULL) parent = PyLong_FromLong(0); else Py_INCREF(parent);
    if (n == NULL) { n = parent; Py_XINCREF(n); }
    if (site_idx == NULL) site_idx = PyLong_FromLong(0);
    if (args == NULL) args = PyTuple_New(0);
    PyObject *ln = PyLong_FromLong(line), *t = PyFloat_FromDouble(t0);
    if (entry == NULL || parent == NULL || n == NULL || site_idx == NULL || args == NULL || ln == NULL || t == NULL) {
        Py_XDECREF(entry); Py_XDECREF(parent); Py_XDECREF(n); Py_XDECREF(site_idx); Py_XDECREF(args);
        Py_XDECREF(ln); Py_XDECREF(t);
        return NULL;
    }
    Py_INCREF(key); PyList_SET_ITEM(entry, E_KEY, key);
    PyList_SET_ITEM(entry, E_N, n);
    PyList_SET_ITEM(entry, E_PARENT, parent);
    PyList_SET_ITEM(entry, E_SITE, site_idx);
    PyList_SET_ITEM(entry, E_LINE, ln);
    PyList_SET_ITEM(entry, E_ARGS, args);
    PyList_SET_ITEM(entry, E_T0, t);
    Py_INCREF(Py_True); PyList_SET_ITEM(entry, E_USER, Py_True);
    PyObject *r = rec ? Py_True : Py_False;
    Py_INCREF(r); PyList_SET_ITEM(entry, E_REC, r);
    return entry;
}

/* The arguments as the hot path keeps them (summ_args): a new tuple, untracked (only its entry
   and record refer to it: no cycle), or the same one when all are atoms. Steals args. */
static PyObject *kept_args(const ValueRules *rules, PyObject *args) {
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (!all_atomic(rules, &PyTuple_GET_ITEM(args, 0), n)) {
        PyObject *s = PyTuple_New(n);
        for (Py_ssize_t i = 0; s != NULL && i < n; i++) {
            PyObject *one = summ_one(rules, PyTuple_GET_ITEM(args, i));
            if (one == NULL) Py_CLEAR(s);
            else PyTuple_SET_ITEM(s, i, one);
        }
        Py_DECREF(args);
        if (s == NULL) return NULL;
        args = s;
    }
    PyObject_GC_UnTrack(args);
    return args;
}

/* The arguments of a user function that starts, as kept (NULL in *out: none). */
static int gather_args(PyFrameObject *frame, PyObject *site, const ValueRules *rules, PyObject **out) {
    PyObject *args = NULL;
#ifdef HAVE_LOCALSPLUS
    (void)site;
    if (frame_args(frame, &args) < 0) return -1;
#else
    PyObject *getter = PyObject_GetAttr(site, s_getter);
    if (getter == NULL) return -1;
    if (getter != Py_None) {
        PyObject *locals = PyObject_GetAttrString((PyObject *)frame, "f_locals");
        args = locals ? PyObject_CallOneArg(getter, locals) : NULL;
        Py_XDECREF(locals);
        if (args == NULL) { Py_DECREF(getter); return -1; }
    }
    Py_DECREF(getter);
#endif
    if (args != NULL && (args = kept_args(rules, args)) == NULL) return -1;
    *out = args;
    return 0;
}

/* Where records go: the sink's append, the run, the expander code, the tracer (pressure()). */
typedef struct {
    PyObject *put, *run, *act_code, *tracer;
    Py_ssize_t *records;
} Out;

/* One finished activation for the sink (as record()/finish() in Python). Steals result. */
static int emit(const Out *out, PyObject *entry, PyObject *result, PyObject *status) {
    PyObject *t1 = PyFloat_FromDouble(now());
    PyObject *rec = NULL;
    if (t1 != NULL)
        rec = PyTuple_Pack(13, out->act_code, PyList_GET_ITEM(entry, E_N), PyList_GET_ITEM(entry, E_PARENT),
                           out->run, PyList_GET_ITEM(entry, E_SITE), PyList_GET_ITEM(entry, E_LINE),
                           PyList_GET_ITEM(entry, E_T0), t1, PyList_GET_ITEM(entry, E_ARGS), result, status,
                           Py_None, Py_None);
    Py_XDECREF(t1);
    Py_DECREF(result);
    if (rec == NULL) return -1;
    /* Nothing refers back to a record, so it cannot be part of a cycle: keep the collector off
       the buffer (otherwise every collection walks every buffered record). */
    PyObject_GC_UnTrack(rec);
    PyObject *r = PyObject_CallOneArg(out->put, rec);
    Py_DECREF(rec);
    if (r == NULL) return -1;
    Py_DECREF(r);
    (*out->records)++;
    if (!(PyLong_AsLong(PyList_GET_ITEM(entry, E_N)) & 1023)) {
        r = PyObject_CallMethodNoArgs(out->tracer, s_pressure);
        if (r == NULL) return -1;
        Py_DECREF(r);
    }
    return 0;
}

/* A user function starts: push its entry: push its entry (as enter() in _profile.py does). */
static int on_user_call(CProfiler *self, PyFrameObject *frame, PyObject *site) {
    PyObject *t = top(self);
    PyObject *parent = t ? PyList_GET_ITEM(t, E_N) : NULL;  /* borrowed */
    PyObject *entry = NULL, *args = NULL, *num = NULL, *idx = NULL;
    long line = 0;
    int rc = -1;

    if (PyList_GET_SIZE(self->stack) >= self->depth) {
        /* too deep: children attach to the deepest recorded ancestor */
        entry = new_entry((PyObject *)frame, NULL, parent, NULL, 0, NULL, 0.0, 0);
        if (entry == NULL) return -1;
        rc = PyList_Append(self->stack, entry);
        Py_DECREF(entry);
        return rc;
    }
    if (self->keep_values) {
        ValueRules rules = profiler_rules(self);
        if (gather_args(frame, site, &rules, &args) < 0) goto done;
    }
    /* The call line only means something in user code (not in importlib or a library loop). */
    if (t != NULL && PyList_GET_ITEM(t, E_USER) == Py_True) {
        PyFrameObject *back = PyFrame_GetBack(frame);
        if (back != NULL) {
            if ((PyObject *)back == PyList_GET_ITEM(t, E_KEY))
                line = PyFrame_GetLineNumber(back);
            Py_DECREF(back);
        }
    }
    num = PyObject_CallNoArgs(self->nxt);
    if (num == NULL) goto done;
    idx = PyObject_GetAttr(site, s_idx);
    if (idx == NULL) goto done;
    entry = new_entry((PyObject *)frame, num, parent, idx, line, args, now(), 1);
    num = idx = args = NULL;  /* stolen */
    if (entry == NULL) goto done;
    rc = PyList_Append(self->stack, entry);
    Py_DECREF(entry);
done:
    Py_XDECREF(args);
    Py_XDECREF(num);
    Py_XDECREF(idx);
    return rc;
}

/* The innermost recorded activation returns: one record for the sink (as finish() does). */
static int on_return(CProfiler *self, PyFrameObject *frame, PyObject *entry, PyObject *arg) {
    PyObject *status = s_finished, *result;
    if (arg == NULL || arg == Py_None) {
        /* None is also what the profiler is told when an exception unwinds the frame */
        int lasti = PyFrame_GetLasti(frame);
        if (lasti >= 0) {
            PyCodeObject *code = PyFrame_GetCode(frame);
            PyObject *bytes = PyCode_GetCode(code);
            Py_DECREF(code);
            if (bytes == NULL) return -1;
            if (lasti < PyBytes_GET_SIZE(bytes) &&
                !self->return_op[(unsigned char)PyBytes_AS_STRING(bytes)[lasti]])
                status = s_error;
            Py_DECREF(bytes);
        }
    }
    if (!self->keep_values) {
        result = self->no_result;
        Py_INCREF(result);
    } else {
        ValueRules rules = profiler_rules(self);
        result = summ_one(&rules, arg ? arg : Py_None);
        if (result == NULL) return -1;
    }
    Out out = {self->put, self->run, self->act_code, self->tracer, &self->records};
    return emit(&out, entry, result, status);
}

/* The key a C callable's decision is cached under. Bound builtin methods are new objects at
   every call: key them by (owner type, method def), as the classifier keys them by (type, name). */
static PyObject *callable_key(PyObject *fn) {
    if (PyCFunction_Check(fn)) {
        PyObject *owner = PyCFunction_GET_SELF(fn);
        if (owner != NULL && !PyModule_Check(owner)) {
            PyObject *tp = PyType_Check(owner) ? owner : (PyObject *)Py_TYPE(owner);
            PyObject *ml = PyLong_FromVoidPtr(((PyCFunctionObject *)fn)->m_ml);
            if (ml == NULL) return NULL;
            PyObject *key = PyTuple_Pack(2, tp, ml);
            Py_DECREF(ml);
            return key;
        }
    }
    Py_INCREF(fn);
    return fn;
}

/* A C callable called from user code: 1 if it is never recorded (most builtins), 0 if pyprof
   must see it, -1 on error (e.g. an unhashable callable object: pyprof decides). */
static int c_call_skipped(CProfiler *self, PyObject *fn) {
    PyObject *key = callable_key(fn);
    if (key == NULL) return -1;
    PyObject *hit = PyDict_GetItemWithError(self->c_skip, key);
    if (hit != NULL) {
        Py_DECREF(key);
        return hit == Py_True;
    }
    if (PyErr_Occurred()) { Py_DECREF(key); return -1; }
    PyObject *site = PyObject_CallOneArg(self->callable_site, fn);
    if (site == NULL) { Py_DECREF(key); return -1; }
    int skip = 1;
    if (site != Py_None) {
        if (self->all_calls) {
            skip = 0;
        } else {
            PyObject *kind = PyObject_GetAttr(site, s_kind);
            if (kind == NULL) { Py_DECREF(site); Py_DECREF(key); return -1; }
            skip = PyUnicode_Compare(kind, s_library) != 0;
            Py_DECREF(kind);
        }
    }
    Py_DECREF(site);
    int rc = PyDict_SetItem(self->c_skip, key, skip ? Py_True : Py_False);
    Py_DECREF(key);
    return rc < 0 ? -1 : skip;
}

static int tracefunc(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg) {
    CProfiler *self = (CProfiler *)obj;
    PyObject *t;

    switch (what) {
    case PyTrace_CALL: {
        PyCodeObject *code = PyFrame_GetCode(frame);
        PyObject *site = PyDict_GetItemWithError(self->codes, (PyObject *)code);  /* borrowed */
        int flags = code->co_flags;
        Py_DECREF(code);
        if (site == NULL) {
            if (PyErr_Occurred()) { fault(self); return 0; }
            return delegate(self, frame, what, arg);  /* first sight: the classifier decides */
        }
        if (site != Py_None) {
            if (flags & GEN_FLAGS)
                return delegate(self, frame, what, arg);
            Py_INCREF(site);
            if (on_user_call(self, frame, site) < 0) fault(self);
            Py_DECREF(site);
            return 0;
        }
        /* library code: recorded only where user code calls it directly */
        if (self->lib_calls && (t = top(self)) != NULL && PyList_GET_ITEM(t, E_USER) == Py_True) {
            PyFrameObject *back = PyFrame_GetBack(frame);
            int from_user = back != NULL && (PyObject *)back == PyList_GET_ITEM(t, E_KEY);
            Py_XDECREF(back);
            if (from_user)
                return delegate(self, frame, what, arg);
        }
        return 0;
    }
    case PyTrace_RETURN:
        t = top(self);
        if (t != NULL && PyList_GET_ITEM(t, E_KEY) == (PyObject *)frame) {
            if (PyList_GET_ITEM(t, E_USER) != Py_True)
                return delegate(self, frame, what, arg);  /* a library activation: its own rules */
            Py_INCREF(t);
            if (PyList_SetSlice(self->stack, PyList_GET_SIZE(self->stack) - 1,
                                PyList_GET_SIZE(self->stack), NULL) < 0) {
                Py_DECREF(t);
                fault(self);
                return 0;
            }
            if (PyList_GET_ITEM(t, E_REC) == Py_True && on_return(self, frame, t, arg) < 0)
                fault(self);
            Py_DECREF(t);
            return 0;
        }
        if (PyDict_GET_SIZE(self->gens))
            return delegate(self, frame, what, arg);
        return 0;
    case PyTrace_C_CALL:
        t = top(self);
        if (self->lib_calls && t != NULL && PyList_GET_ITEM(t, E_KEY) == (PyObject *)frame &&
            PyList_GET_ITEM(t, E_USER) == Py_True) {
            int skip = c_call_skipped(self, arg);
            if (skip == 1) return 0;
            PyErr_Clear();
            return delegate(self, frame, what, arg);
        }
        return 0;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
        t = top(self);
        if (t != NULL && PyList_GET_ITEM(t, E_KEY) == arg)
            return delegate(self, frame, what, arg);
        return 0;
    default:
        return 0;
    }
}

/* CProfiler(pyprof, stack, gens, codes, put, run, nxt, summ_value, vmode, atoms,
             no_result, act_code, tracer, depth, lib_calls, keep_values, return_ops, callable_site,
             all_calls, copy_cls, plain, limit) */
static int CProfiler_init(CProfiler *self, PyObject *args, PyObject *kwds) {
    PyObject *return_ops;
    static const char *names[7] = {"call", "exception", "line", "return", "c_call", "c_exception", "c_return"};
    if (!PyArg_ParseTuple(args, "OO!O!O!OOOOOO!OOOlppOOpOOn", &self->pyprof, &PyList_Type, &self->stack,
                          &PyDict_Type, &self->gens, &PyDict_Type, &self->codes, &self->put, &self->run,
                          &self->nxt, &self->summ_value, &self->vmode,
                          &PyFrozenSet_Type, &self->atoms, &self->no_result, &self->act_code, &self->tracer,
                          &self->depth, &self->lib_calls, &self->keep_values, &return_ops,
                          &self->callable_site, &self->all_calls, &self->copy_cls, &self->plain, &self->limit))
        return -1;
    self->plain = self->plain == Py_None ? NULL : self->plain;
    Py_XINCREF(self->plain);
    PyObject **fields[] = {&self->pyprof, &self->stack, &self->gens, &self->codes, &self->put, &self->run,
                           &self->nxt, &self->summ_value, &self->vmode, &self->atoms,
                           &self->no_result, &self->act_code, &self->tracer, &self->callable_site,
                           &self->copy_cls};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        Py_INCREF(*fields[i]);
    for (int i = 0; i < 7; i++) {
        self->ev_names[i] = PyUnicode_InternFromString(names[i]);
        if (self->ev_names[i] == NULL) return -1;
    }
    self->full_values = PyUnicode_CompareWithASCIIString(self->vmode, "full") == 0;
    self->c_skip = PyDict_New();
    if (self->c_skip == NULL) return -1;
    memset(self->return_op, 0, sizeof(self->return_op));
    PyObject *it = PyObject_GetIter(return_ops), *op;
    if (it == NULL) return -1;
    while ((op = PyIter_Next(it)) != NULL) {
        long v = PyLong_AsLong(op);
        Py_DECREF(op);
        if (v >= 0 && v < 256) self->return_op[v] = 1;
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static int CProfiler_traverse(CProfiler *self, visitproc visit, void *arg) {
    Py_VISIT(self->pyprof); Py_VISIT(self->stack); Py_VISIT(self->gens); Py_VISIT(self->codes);
    Py_VISIT(self->put); Py_VISIT(self->nxt); Py_VISIT(self->summ_value); Py_VISIT(self->plain);
    Py_VISIT(self->tracer); Py_VISIT(self->callable_site); Py_VISIT(self->c_skip);
    return 0;
}

static int CProfiler_clear(CProfiler *self) {
    Py_CLEAR(self->pyprof); Py_CLEAR(self->stack); Py_CLEAR(self->gens); Py_CLEAR(self->codes);
    Py_CLEAR(self->put); Py_CLEAR(self->run); Py_CLEAR(self->nxt);
    Py_CLEAR(self->summ_value); Py_CLEAR(self->vmode); Py_CLEAR(self->atoms); Py_CLEAR(self->no_result);
    Py_CLEAR(self->plain);
    Py_CLEAR(self->act_code); Py_CLEAR(self->tracer); Py_CLEAR(self->callable_site); Py_CLEAR(self->c_skip);
    Py_CLEAR(self->copy_cls);
    for (int i = 0; i < 7; i++) Py_CLEAR(self->ev_names[i]);
    return 0;
}

static void CProfiler_dealloc(CProfiler *self) {
    PyObject_GC_UnTrack(self);
    CProfiler_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *CProfiler_install(CProfiler *self, PyObject *unused) {
    PyEval_SetProfile(tracefunc, (PyObject *)self);
    Py_RETURN_NONE;
}

static PyObject *CProfiler_records(CProfiler *self, void *closure) {
    return PyLong_FromSsize_t(self->records);
}

static PyMethodDef CProfiler_methods[] = {
    {"install", (PyCFunction)CProfiler_install, METH_NOARGS,
     "Make this the profile function of the calling thread (sys.setprofile(None) removes it)."},
    {NULL}
};

static PyGetSetDef CProfiler_getset[] = {
    {"records", (getter)CProfiler_records, NULL, "Activations this profiler recorded itself.", NULL},
    {NULL}
};

static PyTypeObject CProfilerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "capture.tracer._cprofile.CProfiler",
    .tp_basicsize = sizeof(CProfiler),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The C hot path of the setprofile tracer.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)CProfiler_init,
    .tp_dealloc = (destructor)CProfiler_dealloc,
    .tp_traverse = (traverseproc)CProfiler_traverse,
    .tp_clear = (inquiry)CProfiler_clear,
    .tp_methods = CProfiler_methods,
    .tp_getset = CProfiler_getset,
};

/* ------------------------------------------------------------------------------------------
 * The C hot path of the sys.monitoring tracer (3.12+, capture/tracer/_sysmon.py).
 *
 * Three callbacks in C, each passing what it does not handle to the Python callback of the
 * same event (same per-thread stack, local.s; same generator table), so the halves can take
 * turns on any event:
 *   PY_START   a known user function (not a generator) starts: push its entry; known
 *              library code: DISABLE;
 *   PY_RETURN  the innermost entry is this user function: pop it and record it;
 *   CALL       a call site in library code: DISABLE; a call of a user function: nothing to do
 *              here (its PY_START records it).
 * Stack entries: KEY (the code object), N, PARENT, SITE, LINE, ARGS, T0, USER, REC[, CALLER].
 * ---------------------------------------------------------------------------------------- */
#if PY_VERSION_HEX >= 0x030C0000
typedef struct {
    PyObject_HEAD
    PyObject *py_start, *py_return, *py_call;  /* the Python callbacks */
    PyObject *local;       /* threading.local: .s is this thread's stack */
    PyObject *codes;       /* code -> Site or None */
    PyObject *put, *run, *nxt, *summ_value, *vmode, *atoms, *no_result, *act_code, *tracer, *copy_cls;
    PyObject *disable;     /* sys.monitoring.DISABLE */
    PyObject *plain;       /* capture.values._PLAIN */
    Py_ssize_t limit;
    long depth;
    int keep_values;
    int full_values;
    Py_ssize_t records;
} CMonitor;

static PyObject *s_s;

static ValueRules mon_rules(CMonitor *m) {
    ValueRules r = {m->atoms, m->copy_cls, m->summ_value, m->vmode, m->full_values, m->plain, m->limit};
    return r;
}

static PyObject *mon_fault(CMonitor *self) {
    report_fault(self->tracer);
    Py_RETURN_NONE;
}

static PyObject *mon_delegate(PyObject *fn, PyObject *const *args, Py_ssize_t nargs) {
    PyObject *r = PyObject_Vectorcall(fn, args, nargs, NULL);
    if (r == NULL) {  /* the Python callbacks catch their own faults; this is a last resort */
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return r;
}

static PyObject *CMonitor_start(CMonitor *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 2) Py_RETURN_NONE;
    PyObject *code = args[0];
    PyObject *site = PyDict_GetItemWithError(self->codes, code);
    if (site == NULL) {
        if (PyErr_Occurred()) return mon_fault(self);
        return mon_delegate(self->py_start, args, nargs);  /* first sight: the classifier decides */
    }
    if (site == Py_None) {
        Py_INCREF(self->disable);
        return self->disable;
    }
    if (!PyCode_Check(code) || (((PyCodeObject *)code)->co_flags & GEN_FLAGS))
        return mon_delegate(self->py_start, args, nargs);
    PyObject *stack = PyObject_GetAttr(self->local, s_s);
    if (stack == NULL || !PyList_CheckExact(stack)) {
        PyErr_Clear();
        Py_XDECREF(stack);
        return mon_delegate(self->py_start, args, nargs);  /* this thread's first: Python makes its stack */
    }
    PyObject *entry = NULL, *cargs = NULL, *num = NULL, *idx = NULL;
    Py_ssize_t size = PyList_GET_SIZE(stack);
    PyObject *t = size ? PyList_GET_ITEM(stack, size - 1) : NULL;
    PyObject *parent = t ? PyList_GET_ITEM(t, E_N) : NULL;
    long line = 0;
    Py_INCREF(site);
    if (size >= self->depth) {  /* too deep: children attach to the deepest recorded ancestor */
        entry = new_entry(code, NULL, parent, NULL, 0, NULL, 0.0, 0);
        if (entry == NULL) goto fail;
        goto push;
    }
    PyFrameObject *frame = PyEval_GetFrame();  /* borrowed: the function that starts */
    if (frame == NULL) goto fail;
    if (self->keep_values) {
        ValueRules rules = mon_rules(self);
        if (gather_args(frame, site, &rules, &cargs) < 0) goto fail;
    }
    if (t != NULL && PyList_GET_ITEM(t, E_USER) == Py_True) {
        PyFrameObject *back = PyFrame_GetBack(frame);
        if (back != NULL) {
            PyCodeObject *bcode = PyFrame_GetCode(back);
            if ((PyObject *)bcode == PyList_GET_ITEM(t, E_KEY))
                line = PyFrame_GetLineNumber(back);
            Py_DECREF(bcode);
            Py_DECREF(back);
        }
    }
    num = PyObject_CallNoArgs(self->nxt);
    if (num == NULL) goto fail;
    idx = PyObject_GetAttr(site, s_idx);
    if (idx == NULL) goto fail;
    entry = new_entry(code, num, parent, idx, line, cargs, now(), 1);
    num = idx = cargs = NULL;  /* stolen */
    if (entry == NULL) goto fail;
push:
    if (PyList_Append(stack, entry) < 0) goto fail;
    Py_DECREF(entry);
    Py_DECREF(site);
    Py_DECREF(stack);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(entry); Py_XDECREF(cargs); Py_XDECREF(num); Py_XDECREF(idx);
    Py_DECREF(site);
    Py_DECREF(stack);
    return mon_fault(self);
}

static PyObject *CMonitor_return(CMonitor *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 3) Py_RETURN_NONE;
    PyObject *stack = PyObject_GetAttr(self->local, s_s);
    if (stack == NULL || !PyList_CheckExact(stack)) {  /* no stack on this thread: nothing open */
        PyErr_Clear();
        Py_XDECREF(stack);
        Py_RETURN_NONE;
    }
    Py_ssize_t size = PyList_GET_SIZE(stack);
    PyObject *t = size ? PyList_GET_ITEM(stack, size - 1) : NULL;
    if (t == NULL || PyList_GET_ITEM(t, E_KEY) != args[0] || PyList_GET_ITEM(t, E_USER) != Py_True) {
        Py_DECREF(stack);
        return mon_delegate(self->py_return, args, nargs);
    }
    Py_INCREF(t);
    if (PyList_SetSlice(stack, size - 1, size, NULL) < 0) {
        Py_DECREF(t);
        Py_DECREF(stack);
        return mon_fault(self);
    }
    Py_DECREF(stack);
    if (PyList_GET_ITEM(t, E_REC) != Py_True) {
        Py_DECREF(t);
        Py_RETURN_NONE;
    }
    ValueRules rules = mon_rules(self);
    PyObject *result = self->keep_values ? summ_one(&rules, args[2]) : (Py_INCREF(self->no_result), self->no_result);
    Out out = {self->put, self->run, self->act_code, self->tracer, &self->records};
    int rc = result == NULL ? -1 : emit(&out, t, result, s_finished);
    Py_DECREF(t);
    if (rc < 0) return mon_fault(self);
    Py_RETURN_NONE;
}

static PyObject *CMonitor_call(CMonitor *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 4) Py_RETURN_NONE;
    PyObject *site = PyDict_GetItemWithError(self->codes, args[0]);
    if (site == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;  /* code we never saw start (the runner's own frames) */
    }
    if (site == Py_None) {  /* a call site inside library code */
        Py_INCREF(self->disable);
        return self->disable;
    }
    PyObject *fn = args[2];
    if (PyMethod_Check(fn)) fn = PyMethod_GET_FUNCTION(fn);
    if (PyFunction_Check(fn)) {
        PyObject *fsite = PyDict_GetItemWithError(self->codes, PyFunction_GET_CODE(fn));
        if (fsite != NULL && fsite != Py_None)
            Py_RETURN_NONE;  /* user code: its PY_START records it */
        PyErr_Clear();
    }
    return mon_delegate(self->py_call, args, nargs);
}

/* CMonitor(py_start, py_return, py_call, local, codes, put, run, nxt, summ_value, vmode, atoms,
            no_result, act_code, tracer, copy_cls, disable, depth, keep_values, plain, limit) */
static int CMonitor_init(CMonitor *self, PyObject *args, PyObject *kwds) {
    if (!PyArg_ParseTuple(args, "OOOOO!OOOOOO!OOOOOlpOn", &self->py_start, &self->py_return, &self->py_call,
                          &self->local, &PyDict_Type, &self->codes, &self->put, &self->run, &self->nxt,
                          &self->summ_value, &self->vmode, &PyFrozenSet_Type, &self->atoms, &self->no_result,
                          &self->act_code, &self->tracer, &self->copy_cls, &self->disable, &self->depth,
                          &self->keep_values, &self->plain, &self->limit))
        return -1;
    self->plain = self->plain == Py_None ? NULL : self->plain;
    Py_XINCREF(self->plain);
    PyObject **fields[] = {&self->py_start, &self->py_return, &self->py_call, &self->local, &self->codes,
                           &self->put, &self->run, &self->nxt, &self->summ_value, &self->vmode, &self->atoms,
                           &self->no_result, &self->act_code, &self->tracer, &self->copy_cls, &self->disable};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        Py_INCREF(*fields[i]);
    self->full_values = PyUnicode_CompareWithASCIIString(self->vmode, "full") == 0;
    return 0;
}

static int CMonitor_traverse(CMonitor *self, visitproc visit, void *arg) {
    Py_VISIT(self->py_start); Py_VISIT(self->py_return); Py_VISIT(self->py_call); Py_VISIT(self->local);
    Py_VISIT(self->codes); Py_VISIT(self->put); Py_VISIT(self->nxt); Py_VISIT(self->summ_value);
    Py_VISIT(self->plain);
    Py_VISIT(self->tracer); Py_VISIT(self->copy_cls);
    return 0;
}

static int CMonitor_clear(CMonitor *self) {
    Py_CLEAR(self->py_start); Py_CLEAR(self->py_return); Py_CLEAR(self->py_call); Py_CLEAR(self->local);
    Py_CLEAR(self->codes); Py_CLEAR(self->put); Py_CLEAR(self->run); Py_CLEAR(self->nxt);
    Py_CLEAR(self->summ_value); Py_CLEAR(self->vmode); Py_CLEAR(self->atoms); Py_CLEAR(self->no_result);
    Py_CLEAR(self->plain);
    Py_CLEAR(self->act_code); Py_CLEAR(self->tracer); Py_CLEAR(self->copy_cls); Py_CLEAR(self->disable);
    return 0;
}

static void CMonitor_dealloc(CMonitor *self) {
    PyObject_GC_UnTrack(self);
    CMonitor_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *CMonitor_records(CMonitor *self, void *closure) {
    return PyLong_FromSsize_t(self->records);
}

static PyMethodDef CMonitor_methods[] = {
    {"start", (PyCFunction)(void (*)(void))CMonitor_start, METH_FASTCALL, "PY_START callback."},
    {"ret", (PyCFunction)(void (*)(void))CMonitor_return, METH_FASTCALL, "PY_RETURN callback."},
    {"call", (PyCFunction)(void (*)(void))CMonitor_call, METH_FASTCALL, "CALL callback."},
    {NULL}
};

static PyGetSetDef CMonitor_getset[] = {
    {"records", (getter)CMonitor_records, NULL, "Activations recorded by the C callbacks.", NULL},
    {NULL}
};

static PyTypeObject CMonitorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "capture.tracer._cprofile.CMonitor",
    .tp_basicsize = sizeof(CMonitor),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The C hot path of the sys.monitoring tracer.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)CMonitor_init,
    .tp_dealloc = (destructor)CMonitor_dealloc,
    .tp_traverse = (traverseproc)CMonitor_traverse,
    .tp_clear = (inquiry)CMonitor_clear,
    .tp_methods = CMonitor_methods,
    .tp_getset = CMonitor_getset,
};
#endif

/* container_summary(v, limit) for tests: None where the Python path decides. */
static PyObject *py_container_summary(PyObject *mod, PyObject *args) {
    PyObject *v;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "On", &v, &limit)) return NULL;
    PyObject *d = container_summary(v, limit);
    if (d == NULL && !PyErr_Occurred()) Py_RETURN_NONE;
    return d;
}

static PyMethodDef module_methods[] = {
    {"container_summary", py_container_summary, METH_VARARGS, "The C summary of a builtin container (tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cprofile", "C hot path of the setprofile tracer.", -1,
                                    module_methods};

PyMODINIT_FUNC PyInit__cprofile(void) {
    if (PyType_Ready(&CProfilerType) < 0) return NULL;
    s_idx = PyUnicode_InternFromString("idx");
    s_type = PyUnicode_InternFromString("type");
    s_repr = PyUnicode_InternFromString("repr");
    s_to_dict = PyUnicode_InternFromString("to_dict");
    s_shape = PyUnicode_InternFromString("shape");
    s_getter = PyUnicode_InternFromString("getter");
    s_fault = PyUnicode_InternFromString("fault");
    s_pressure = PyUnicode_InternFromString("pressure");
    s_finished = PyUnicode_InternFromString("FINISHED");
    s_error = PyUnicode_InternFromString("ERROR");
    s_kind = PyUnicode_InternFromString("kind");
    s_library = PyUnicode_InternFromString("library");
    if (cr_init() < 0 || load_values() < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
#if PY_VERSION_HEX >= 0x030C0000
    s_s = PyUnicode_InternFromString("s");
    if (PyType_Ready(&CMonitorType) < 0) return NULL;
    Py_INCREF(&CMonitorType);
    if (PyModule_AddObject(m, "CMonitor", (PyObject *)&CMonitorType) < 0) return NULL;
#endif
    Py_INCREF(&CProfilerType);
    if (PyModule_AddObject(m, "CProfiler", (PyObject *)&CProfilerType) < 0) {
        Py_DECREF(&CProfilerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
