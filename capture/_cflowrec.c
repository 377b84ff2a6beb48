/* The hook of `kg run --dataflow` in C: capture/_flowrec.py's PyRecorder (the reference form,
 * and the fallback with KG_C=0), with the same records.
 *
 * The rewritten script calls ``__kg_df__(site, value)`` after every assignment it records. In
 * Python that call cost ~1.5 us (a frame, a table lookup, a loop over the reads, a tuple); here
 * the site table is unpacked once into C arrays, so an assignment is: the current versions of
 * the slots its site read (a few array loads), the activation on top of the tracer's stack, one
 * small tuple appended to the chunk. A chunk of CHUNK versions goes to the sink's put.
 *
 * Nothing here raises into the program: a fault is counted (``faults``) and the value returned.
 * The GIL guards the state (no call here releases it between reading and writing it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

#define CHUNK 1024
#define ACT_N 1     /* a tracer stack entry: its activation number ... */
#define ACT_REC 8   /* ... and whether it is recorded */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    Py_ssize_t nsites, nslots, nfns, maxreads;
    char *kind;               /* per site: 0 assignment, 1 call mark, 2 file written to, 3 value written,
                                 4 store into an object (its version kept by ``light``: type and size) */
    Py_ssize_t *target;       /* per site: slot written, or the function called */
    Py_ssize_t *fn;           /* per site: the function whose call site parameters read (-1); a write's FILE site */
    Py_ssize_t *roff, *rlen;  /* per site: its reads in ``reads`` */
    Py_ssize_t *reads;        /* slots (>= 0), or -(j+1): the caller's argument j */
    PyObject **info;          /* per site: (name, scope, line, col), held */
    long long *cur;           /* per slot: its current version + 1 (0: none yet) */
    Py_ssize_t *pending;      /* per function: the call site about to call it (-1) */
    long long *hits;          /* per site: versions recorded there (the iteration) */
    long long *scratch;       /* the sources of one version */
    long long count, base;
    Py_ssize_t limit, faults;
    PyObject *run, *code, *put, *check, *stacks, *keep, *light, *limit_obj, *chunk, *writes;
    PyObject *stack;          /* the tracer stack of the thread seen last (held) */
    unsigned long stack_tid;
} Recorder;

static void release(Recorder *self) {
    if (self->info != NULL)
        for (Py_ssize_t i = 0; i < self->nsites; i++) Py_XDECREF(self->info[i]);
    PyMem_Free(self->kind), PyMem_Free(self->target), PyMem_Free(self->fn), PyMem_Free(self->roff);
    PyMem_Free(self->rlen), PyMem_Free(self->reads), PyMem_Free(self->info), PyMem_Free(self->cur);
    PyMem_Free(self->pending), PyMem_Free(self->hits), PyMem_Free(self->scratch);
    self->kind = NULL, self->target = self->fn = self->roff = self->rlen = self->reads = self->pending = NULL;
    self->info = NULL, self->cur = self->hits = self->scratch = NULL;
}

/* The innermost recorded activation on this thread's tracer stack (borrowed), or NULL. */
static PyObject *activation(Recorder *self) {
    unsigned long tid = PyThread_get_thread_ident();
    if (self->stack == NULL || tid != self->stack_tid) {
        PyObject *key = PyLong_FromUnsignedLong(tid);
        if (key == NULL) return NULL;
        PyObject *s = PyDict_GetItemWithError(self->stacks, key);  /* borrowed */
        Py_DECREF(key);
        if (s == NULL || !PyList_Check(s)) return NULL;  /* an untraced thread (error left to caller) */
        Py_INCREF(s);
        Py_XSETREF(self->stack, s);
        self->stack_tid = tid;
    }
    for (Py_ssize_t i = PyList_GET_SIZE(self->stack) - 1; i >= 0; i--) {
        PyObject *e = PyList_GET_ITEM(self->stack, i);
        if (PyList_Check(e) && PyList_GET_SIZE(e) > ACT_REC) {
            PyObject *rec = PyList_GET_ITEM(e, ACT_REC);
            if (rec != Py_False && rec != Py_None && rec != NULL && PyLong_Check(PyList_GET_ITEM(e, ACT_N)))
                return PyList_GET_ITEM(e, ACT_N);
        }
    }
    return NULL;
}

/* Kept by reference: numbers, None, and strings and bytes up to the repr limit (PyRecorder._kept);
 * also small tuples of them, and small lists of them as a copy (summarised when read). */
static int small_atom(Recorder *self, PyObject *v) {
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyLong_Type || t == &PyFloat_Type || v == Py_None || t == &PyBool_Type) return 1;
    if (t == &PyUnicode_Type) return PyUnicode_GET_LENGTH(v) <= self->limit;
    if (t == &PyBytes_Type) return PyBytes_GET_SIZE(v) <= self->limit;
    return 0;
}

static PyObject *kept(Recorder *self, PyObject *v) {
    if (small_atom(self, v)) return Py_NewRef(v);
    if (Py_TYPE(v) == &PyTuple_Type && PyTuple_GET_SIZE(v) <= 16) {
        Py_ssize_t i, n = PyTuple_GET_SIZE(v);
        for (i = 0; i < n && small_atom(self, PyTuple_GET_ITEM(v, i)); i++)
            ;
        if (i == n) return Py_NewRef(v);
    }
    if (Py_TYPE(v) == &PyList_Type && PyList_GET_SIZE(v) <= 16) {  /* a copy: it may change later */
        Py_ssize_t i, n = PyList_GET_SIZE(v);
        for (i = 0; i < n && small_atom(self, PyList_GET_ITEM(v, i)); i++)
            ;
        if (i == n) return PyList_GetSlice(v, 0, n);
    }
    return PyObject_CallFunctionObjArgs(self->keep, v, self->limit_obj, NULL);
}

static int flush(Recorder *self) {
    Py_ssize_t n = PyList_GET_SIZE(self->chunk);
    if (n == 0) return 0;
    PyObject *fresh = PyList_New(0);
    if (fresh == NULL) return -1;
    PyObject *chunk = self->chunk;
    self->chunk = fresh;
    PyObject *rec = Py_BuildValue("(OOLN)", self->code, self->run, self->base, chunk);  /* steals chunk */
    if (rec == NULL) return -1;
    self->base += n;
    PyObject *r = PyObject_CallOneArg(self->put, rec);
    Py_DECREF(rec);
    if (r == NULL) return -1;
    Py_DECREF(r);
    r = PyObject_CallNoArgs(self->check);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

/* writes(kind, x, pair): the file of a ``f.write(...)`` (2), or the version written to it (3);
 * pair: the site's fn, the FILE site both of a write's sites name. */
static int note(Recorder *self, Py_ssize_t site, int kind, PyObject *x) {
    PyObject *k = PyLong_FromLong(kind), *pair = PyLong_FromSsize_t(self->fn[site]);
    if (k == NULL || pair == NULL) {
        Py_XDECREF(k), Py_XDECREF(pair);
        return -1;
    }
    PyObject *r = PyObject_CallFunctionObjArgs(self->writes, k, x, pair, NULL);
    Py_DECREF(k), Py_DECREF(pair);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

static int record(Recorder *self, Py_ssize_t site, PyObject *value) {
    if (site < 0 || site >= self->nsites) {
        PyErr_SetString(PyExc_IndexError, "dataflow site out of range");
        return -1;
    }
    int kind = self->kind[site];
    if (kind == 1) {
        self->pending[self->target[site]] = site;
        return 0;
    }
    if (kind == 2) return note(self, site, kind, value);
    Py_ssize_t k = 0, off = self->roff[site], len = self->rlen[site];
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_ssize_t r = self->reads[off + i];
        if (r < 0) {  /* a parameter: the argument in that position at the call site that called fn */
            Py_ssize_t f = self->fn[site], call = f >= 0 ? self->pending[f] : -1, j = -r - 1;
            if (call < 0 || j >= self->rlen[call]) continue;
            r = self->reads[self->roff[call] + j];
            if (r < 0) continue;
        }
        long long v = self->cur[r];
        if (!v) continue;
        Py_ssize_t d = 0;
        while (d < k && self->scratch[d] != v - 1) d++;
        if (d == k) self->scratch[k++] = v - 1;
    }
    PyObject *sources = PyTuple_New(k);
    if (sources == NULL) return -1;
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *x = PyLong_FromLongLong(self->scratch[i]);
        if (x == NULL) {
            Py_DECREF(sources);
            return -1;
        }
        PyTuple_SET_ITEM(sources, i, x);
    }
    PyObject *act = activation(self);
    if (act == NULL && PyErr_Occurred()) {
        Py_DECREF(sources);
        return -1;
    }
    PyObject *keep = kind == 4 ? PyObject_CallOneArg(self->light, value) : kept(self, value);
    if (keep == NULL) {
        Py_DECREF(sources);
        return -1;
    }
    long long it = ++self->hits[site];
    PyObject *entry = PyTuple_New(5);
    PyObject *itobj = PyLong_FromLongLong(it);
    if (entry == NULL || itobj == NULL) {
        Py_XDECREF(entry), Py_XDECREF(itobj), Py_DECREF(sources), Py_DECREF(keep);
        return -1;
    }
    PyTuple_SET_ITEM(entry, 0, Py_NewRef(self->info[site]));
    PyTuple_SET_ITEM(entry, 1, keep);
    PyTuple_SET_ITEM(entry, 2, sources);
    PyTuple_SET_ITEM(entry, 3, act != NULL ? Py_NewRef(act) : PyLong_FromLong(0));
    PyTuple_SET_ITEM(entry, 4, itobj);
    /* Only atoms inside (unless a summary dict holds containers): nothing for the collector to walk. */
    if (!PyObject_GC_IsTracked(keep)) PyObject_GC_UnTrack(entry);
    int err = PyList_Append(self->chunk, entry);
    Py_DECREF(entry);
    if (err < 0) return -1;
    self->cur[self->target[site]] = ++self->count;  /* version count - 1, stored + 1 */
    if (kind == 3) {
        PyObject *n = PyLong_FromLongLong(self->count - 1);
        if (n == NULL || note(self, site, kind, n) < 0) {
            Py_XDECREF(n);
            return -1;
        }
        Py_DECREF(n);
    }
    if (PyList_GET_SIZE(self->chunk) >= CHUNK) return flush(self);
    return 0;
}

static PyObject *Recorder_vectorcall(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Recorder *self = (Recorder *)obj;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 2 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "__kg_df__(site, value)");
        return NULL;
    }
    Py_ssize_t site = PyLong_AsSsize_t(args[0]);
    if ((site == -1 && PyErr_Occurred()) || record(self, site, args[1]) < 0) {
        self->faults++;  /* capture never raises into the program */
        PyErr_Clear();
    }
    return Py_NewRef(args[1]);
}

static Py_ssize_t as_index(PyObject *seq, Py_ssize_t i, Py_ssize_t lo, Py_ssize_t hi, int *bad) {
    Py_ssize_t x = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, i));
    if (x == -1 && PyErr_Occurred()) *bad = 1;
    else if (x < lo || x >= hi) *bad = 1;
    return x;
}

/* Recorder(sites, run, code, put, check, stacks, limit, writes, keep, light) */
static int Recorder_init(Recorder *self, PyObject *args, PyObject *kwds) {
    PyObject *sites, *run, *code, *put, *check, *stacks, *limit_obj, *writes, *keep, *light;
    if (!PyArg_ParseTuple(args, "OUOOOO!OOOO", &sites, &run, &code, &put, &check, &PyDict_Type, &stacks, &limit_obj,
                          &writes, &keep, &light))
        return -1;
    Py_ssize_t limit = PyLong_AsSsize_t(limit_obj);
    if (limit == -1 && PyErr_Occurred()) return -1;
    PyObject *table = PyObject_GetAttrString(sites, "table");
    PyObject *slots = PyObject_GetAttrString(sites, "slots");
    PyObject *fns = PyObject_GetAttrString(sites, "functions");
    PyObject *fast = table ? PySequence_Fast(table, "sites.table must be a list") : NULL;
    int ok = fast != NULL && slots != NULL && fns != NULL;
    Py_ssize_t nsites = 0, nslots = 0, nfns = 0, total = 0;
    if (ok) {
        nsites = PySequence_Fast_GET_SIZE(fast), nslots = PyObject_Length(slots), nfns = PyObject_Length(fns);
        ok = nslots >= 0 && nfns >= 0;
    }
    for (Py_ssize_t i = 0; ok && i < nsites; i++) {
        PyObject *s = PySequence_Fast_GET_ITEM(fast, i);
        ok = PyTuple_Check(s) && PyTuple_GET_SIZE(s) == 5 && PyTuple_Check(PyTuple_GET_ITEM(s, 2));
        if (ok) total += PyTuple_GET_SIZE(PyTuple_GET_ITEM(s, 2));
    }
    if (ok) {
        release(self);
        self->nsites = nsites, self->nslots = nslots, self->nfns = nfns;
        self->kind = PyMem_Calloc(nsites + 1, 1);
        self->target = PyMem_Calloc(nsites + 1, sizeof(Py_ssize_t));
        self->fn = PyMem_Calloc(nsites + 1, sizeof(Py_ssize_t));
        self->roff = PyMem_Calloc(nsites + 1, sizeof(Py_ssize_t));
        self->rlen = PyMem_Calloc(nsites + 1, sizeof(Py_ssize_t));
        self->reads = PyMem_Calloc(total + 1, sizeof(Py_ssize_t));
        self->info = PyMem_Calloc(nsites + 1, sizeof(PyObject *));
        self->cur = PyMem_Calloc(nslots + 1, sizeof(long long));
        self->pending = PyMem_Calloc(nfns + 1, sizeof(Py_ssize_t));
        self->hits = PyMem_Calloc(nsites + 1, sizeof(long long));
        self->scratch = PyMem_Calloc(total + 1, sizeof(long long));
        if (!self->kind || !self->target || !self->fn || !self->roff || !self->rlen || !self->reads || !self->info
            || !self->cur || !self->pending || !self->hits || !self->scratch) {
            PyErr_NoMemory();
            ok = 0;
        }
    }
    int bad = 0;
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; ok && !bad && i < nsites; i++) {
        PyObject *s = PySequence_Fast_GET_ITEM(fast, i);
        PyObject *reads = PySequence_Fast(PyTuple_GET_ITEM(s, 2), "reads");
        if (reads == NULL) {
            ok = 0;
            break;
        }
        Py_ssize_t kind = as_index(s, 0, 0, 5, &bad);
        self->kind[i] = (char)kind;
        self->target[i] = as_index(s, 1, 0, kind == 1 ? nfns : nslots, &bad);
        self->fn[i] = as_index(s, 3, -1, kind == 2 || kind == 3 ? nsites : nfns, &bad);  /* a write's: its FILE site */
        self->roff[i] = at;
        self->rlen[i] = PySequence_Fast_GET_SIZE(reads);
        for (Py_ssize_t j = 0; j < self->rlen[i]; j++)
            self->reads[at++] = as_index(reads, j, kind == 1 ? -1 : -(1 << 20), nslots, &bad);
        Py_DECREF(reads);
        self->info[i] = Py_NewRef(PyTuple_GET_ITEM(s, 4));
    }
    for (Py_ssize_t f = 0; ok && f < nfns; f++) self->pending[f] = -1;
    Py_XDECREF(fast), Py_XDECREF(table), Py_XDECREF(slots), Py_XDECREF(fns);
    if (ok && bad) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "malformed dataflow site table");
        ok = 0;
    }
    if (!ok) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError,
                            "Recorder(sites, run, code, put, check, stacks, limit, writes, keep, light)");
        return -1;
    }
    PyObject *chunk = PyList_New(0);
    if (chunk == NULL) return -1;
    Py_XSETREF(self->chunk, chunk);
    Py_XSETREF(self->run, Py_NewRef(run));
    Py_XSETREF(self->code, Py_NewRef(code));
    Py_XSETREF(self->put, Py_NewRef(put));
    Py_XSETREF(self->check, Py_NewRef(check));
    Py_XSETREF(self->stacks, Py_NewRef(stacks));
    Py_XSETREF(self->keep, Py_NewRef(keep));
    Py_XSETREF(self->light, Py_NewRef(light));
    Py_XSETREF(self->writes, Py_NewRef(writes));
    Py_XSETREF(self->limit_obj, Py_NewRef(limit_obj));
    Py_CLEAR(self->stack);
    self->limit = limit, self->count = self->base = 0, self->faults = 0;
    self->vectorcall = Recorder_vectorcall;
    return 0;
}

static int Recorder_traverse(Recorder *self, visitproc visit, void *arg) {
    Py_VISIT(self->run);
    Py_VISIT(self->code);
    Py_VISIT(self->put);
    Py_VISIT(self->check);
    Py_VISIT(self->stacks);
    Py_VISIT(self->keep);
    Py_VISIT(self->light);
    Py_VISIT(self->limit_obj);
    Py_VISIT(self->chunk);
    Py_VISIT(self->stack);
    Py_VISIT(self->writes);
    return 0;
}

static int Recorder_clear(Recorder *self) {
    Py_CLEAR(self->run);
    Py_CLEAR(self->code);
    Py_CLEAR(self->put);
    Py_CLEAR(self->check);
    Py_CLEAR(self->stacks);
    Py_CLEAR(self->keep);
    Py_CLEAR(self->light);
    Py_CLEAR(self->limit_obj);
    Py_CLEAR(self->chunk);
    Py_CLEAR(self->stack);
    Py_CLEAR(self->writes);
    return 0;
}

static void Recorder_dealloc(Recorder *self) {
    PyObject_GC_UnTrack(self);
    Recorder_clear(self);
    release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Recorder_flush(Recorder *self, PyObject *unused) {
    if (self->chunk == NULL) Py_RETURN_NONE;
    if (flush(self) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Recorder_count(Recorder *self, void *closure) { return PyLong_FromLongLong(self->count); }
static PyObject *Recorder_faults(Recorder *self, void *closure) { return PyLong_FromSsize_t(self->faults); }
static PyObject *Recorder_writes(Recorder *self, void *closure) {
    return Py_NewRef(self->writes ? self->writes : Py_None);
}

static PyMethodDef Recorder_methods[] = {
    {"flush", (PyCFunction)Recorder_flush, METH_NOARGS, "Send the versions recorded since the last flush to the sink."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Recorder_getset[] = {
    {"count", (getter)Recorder_count, NULL, "versions recorded", NULL},
    {"faults", (getter)Recorder_faults, NULL, "hook calls that failed (the program went on)", NULL},
    {"writes", (getter)Recorder_writes, NULL, "the Writes it notes f.write(x) in", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject RecorderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "capture._cflowrec.Recorder",
    .tp_basicsize = sizeof(Recorder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Recorder, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Recorder_init,
    .tp_dealloc = (destructor)Recorder_dealloc,
    .tp_traverse = (traverseproc)Recorder_traverse,
    .tp_clear = (inquiry)Recorder_clear,
    .tp_methods = Recorder_methods,
    .tp_getset = Recorder_getset,
    .tp_doc = "Recorder(sites, run, code, put, check, stacks, limit, writes, keep, light): the __kg_df__ hook "
              "(capture._flowrec).",
};

/* source_blocks(versions, bits) -> the set of (n >> bits) of every source of every version of a
 * chunk (the key rows downstream lineage finds it by; _flowrec._py_source_blocks). */
static PyObject *source_blocks(PyObject *mod, PyObject *args) {
    PyObject *versions;
    int bits;
    if (!PyArg_ParseTuple(args, "O!i", &PyList_Type, &versions, &bits)) return NULL;
    PyObject *out = PySet_New(NULL);
    if (out == NULL) return NULL;
    long long last = -1;  /* consecutive sources mostly share a block: added once */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(versions); i++) {
        PyObject *v = PyList_GET_ITEM(versions, i);
        if (!PyTuple_Check(v) || PyTuple_GET_SIZE(v) < 3 || !PyTuple_Check(PyTuple_GET_ITEM(v, 2))) continue;
        PyObject *src = PyTuple_GET_ITEM(v, 2);
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(src); j++) {
            long long b = PyLong_AsLongLong(PyTuple_GET_ITEM(src, j));
            if (b == -1 && PyErr_Occurred()) {
                Py_DECREF(out);
                return NULL;
            }
            b >>= bits;
            if (b == last) continue;
            last = b;
            PyObject *x = PyLong_FromLongLong(b);
            if (x == NULL || PySet_Add(out, x) < 0) {
                Py_XDECREF(x);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(x);
        }
    }
    return out;
}

static PyMethodDef module_methods[] = {
    {"source_blocks", source_blocks, METH_VARARGS, "source_blocks(versions, bits) -> {source n >> bits}"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cflowrec", "The __kg_df__ hook of kg run --dataflow in C.",
                                    -1, module_methods};

PyMODINIT_FUNC PyInit__cflowrec(void) {
    if (PyType_Ready(&RecorderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Recorder", (PyObject *)&RecorderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
