/* The per-call half of capture/_dataflow.py in C: remembering a task's atom result by
 * identity, and finding an argument among the remembered results.
 *
 * Both run at every call of a @task. With a dict keyed by id() they cost ~0.3 µs a call (an
 * int and a tuple allocated, four dict operations); here a ring of the last ``cap`` results
 * and an open-addressing table keyed by address cost a few dozen nanoseconds. Same rules as
 * the Python forms in capture/_dataflow.py (the reference, and the fallback with KG_C=0):
 *   - a *shared* atom (None, bool, small int, empty/one-character or identifier-like str,
 *     empty/one-byte bytes) is not remembered here: Python matches it by call site;
 *   - a str or bytes longer than ``hold`` is remembered by Python (by fingerprint, not held);
 *   - a remembered result is held (a reference in the ring), so its address cannot be taken
 *     by another object while it is remembered: equal addresses mean the same object.
 * The GIL guards the state (no call here releases it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static PyObject *sites = NULL;      /* capture._dataflow.SITES: non-empty -> shared atoms may link */
static PyObject *py_fresh = NULL;   /* capture._dataflow.FRESH: what Python remembered (long strings) */
static Py_ssize_t cap = 0, hold = 1024;
static PyObject **objs = NULL;      /* ring: the remembered results (held) ... */
static PyObject **names = NULL;     /* ... their output names (held) ... */
static long long *nums = NULL;      /* ... and their task numbers */
static Py_ssize_t pos = 0, used = 0;
static Py_ssize_t *slots = NULL;    /* table: ring index + 1 by address (0: empty), linear probing */
static size_t mask = 0;

static int is_shared(PyObject *v) {
    PyTypeObject *t = Py_TYPE(v);
    if (v == Py_None || t == &PyBool_Type) return 1;
    if (t == &PyLong_Type) {
        int overflow = 0;
        long x = PyLong_AsLongAndOverflow(v, &overflow);
        return !overflow && x >= -5 && x <= 256;
    }
    if (t == &PyUnicode_Type) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(v);
        return n <= 1 || (n <= 64 && PyUnicode_IsIdentifier(v) == 1);
    }
    if (t == &PyBytes_Type) return PyBytes_GET_SIZE(v) <= 1;
    return 0;
}

static size_t home(PyObject *v) {
    uintptr_t p = (uintptr_t)v >> 4;  /* objects are 16-byte aligned */
    p ^= p >> 17;
    p *= (uintptr_t)0x9E3779B97F4A7C15ULL;
    return (size_t)(p >> 7) & mask;
}

/* The slot holding ``v``, or the empty slot where it would go. */
static size_t find(PyObject *v) {
    size_t i = home(v);
    while (slots[i] && objs[slots[i] - 1] != v) i = (i + 1) & mask;
    return i;
}

/* Empty slot ``i`` and shift the entries after it back (deletion without tombstones). */
static void unslot(size_t i) {
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!slots[j]) break;
        size_t k = home(objs[slots[j] - 1]);
        /* move j to i unless its home lies cyclically in (i, j] */
        if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j)) continue;
        slots[i] = slots[j];
        i = j;
    }
    slots[i] = 0;
}

static void drop_oldest(void) {
    PyObject *old = objs[pos];
    size_t i = find(old);
    if (slots[i] == pos + 1) unslot(i);  /* else a newer ring entry holds the same object */
    Py_DECREF(old);
    Py_DECREF(names[pos]);
    objs[pos] = names[pos] = NULL;
}

/* configure(sites: dict, fresh: dict, cap, hold) */
static PyObject *configure(PyObject *mod, PyObject *args) {
    PyObject *s, *f;
    Py_ssize_t new_cap, new_hold;
    if (!PyArg_ParseTuple(args, "O!O!nn", &PyDict_Type, &s, &PyDict_Type, &f, &new_cap, &new_hold)) return NULL;
    if (new_cap < 1) {
        PyErr_SetString(PyExc_ValueError, "cap must be positive");
        return NULL;
    }
    size_t size = 1;
    while (size < (size_t)new_cap * 2) size <<= 1;  /* load factor <= 1/2 */
    PyObject **o = PyMem_Calloc((size_t)new_cap, sizeof(PyObject *));
    PyObject **nm = PyMem_Calloc((size_t)new_cap, sizeof(PyObject *));
    long long *nu = PyMem_Calloc((size_t)new_cap, sizeof(long long));
    Py_ssize_t *sl = PyMem_Calloc(size, sizeof(Py_ssize_t));
    if (!o || !nm || !nu || !sl) {
        PyMem_Free(o), PyMem_Free(nm), PyMem_Free(nu), PyMem_Free(sl);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < cap; i++) {
        Py_XDECREF(objs[i]);
        Py_XDECREF(names[i]);
    }
    PyMem_Free(objs), PyMem_Free(names), PyMem_Free(nums), PyMem_Free(slots);
    objs = o, names = nm, nums = nu, slots = sl, mask = size - 1, cap = new_cap, hold = new_hold;
    pos = used = 0;
    Py_INCREF(s);
    Py_XSETREF(sites, s);
    Py_INCREF(f);
    Py_XSETREF(py_fresh, f);
    Py_RETURN_NONE;
}

/* remember(v, n, name) -> True when done here (remembered, or None); False: Python decides. */
static PyObject *remember(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || slots == NULL) {
        PyErr_SetString(PyExc_TypeError, "remember(v, n, name) after configure()");
        return NULL;
    }
    PyObject *v = args[0];
    if (v == Py_None) Py_RETURN_TRUE;
    if (is_shared(v)) Py_RETURN_FALSE;
    PyTypeObject *t = Py_TYPE(v);
    if ((t == &PyUnicode_Type && PyUnicode_GET_LENGTH(v) > hold) || (t == &PyBytes_Type && PyBytes_GET_SIZE(v) > hold))
        Py_RETURN_FALSE;
    long long n = PyLong_AsLongLong(args[1]);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (used == cap) drop_oldest();
    else used++;
    Py_INCREF(v);
    Py_INCREF(args[2]);
    objs[pos] = v, names[pos] = args[2], nums[pos] = n;
    slots[find(v)] = pos + 1;  /* a newer result replaces an older entry for the same object */
    pos = (pos + 1) % cap;
    Py_RETURN_TRUE;
}

/* lookup(v) -> (n, name) of the task output that is this very object, or None. */
static PyObject *lookup(PyObject *mod, PyObject *v) {
    if (slots != NULL) {
        Py_ssize_t s = slots[find(v)];
        if (s) return Py_BuildValue("(LO)", nums[s - 1], names[s - 1]);
    }
    Py_RETURN_NONE;
}

/* 1: ``v`` may be an earlier output (remembered here, or a shared atom while call sites are). */
static int may_be_output(PyObject *v, int any_sites) {
    if (slots[find(v)]) return 1;
    if (!any_sites) return 0;
    PyTypeObject *t = Py_TYPE(v);
    return v == Py_None || t == &PyBool_Type || ((t == &PyUnicode_Type) && PyUnicode_GET_LENGTH(v) <= 64)
           || is_shared(v);
}

/* may_link(args: tuple, kwargs: dict | None) -> bool: the first test of a call (any result that
 * Python remembered, a long string, sends every call to Python's test). */
static PyObject *may_link(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || slots == NULL || !PyTuple_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "may_link(args, kwargs) after configure()");
        return NULL;
    }
    if (PyDict_GET_SIZE(py_fresh) > 0) Py_RETURN_TRUE;
    int any_sites = PyDict_GET_SIZE(sites) > 0;
    PyObject *tup = args[0];
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tup); i++)
        if (may_be_output(PyTuple_GET_ITEM(tup, i), any_sites)) Py_RETURN_TRUE;
    PyObject *kw = args[1];
    if (kw != Py_None && PyDict_Check(kw)) {
        Py_ssize_t p = 0;
        PyObject *k, *v;
        while (PyDict_Next(kw, &p, &k, &v))
            if (may_be_output(v, any_sites)) Py_RETURN_TRUE;
    }
    Py_RETURN_FALSE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, "configure(sites, fresh, cap, hold): capture._dataflow's maps and sizes."},
    {"remember", (PyCFunction)(void (*)(void))remember, METH_FASTCALL,
     "remember(v, n, name) -> True if done here (a fresh atom remembered, or None); False: Python decides."},
    {"lookup", lookup, METH_O, "lookup(v) -> (task n, output name) of the remembered result that is v, or None."},
    {"may_link", (PyCFunction)(void (*)(void))may_link, METH_FASTCALL,
     "may_link(args, kwargs) -> False when no argument can be an earlier task's output."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cdataflow",
                                    "The per-call half of capture._dataflow in C.", -1, methods};

PyMODINIT_FUNC PyInit__cdataflow(void) { return PyModule_Create(&module); }
