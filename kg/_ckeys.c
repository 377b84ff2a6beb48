/* The key rows of a segment's records in one pass, in C (kg/segments.py: NumberedCodec.keys is
 * the Python form and the reference; tests/core/test_segments.py checks both give the same rows).
 *
 * A segment is found by the blocks (number >> bits) its records' numbers fall in, and by those
 * of their parents. In Python that is eight passes over the records (~0.2 us per record, a third
 * of sealing an activation); here it is one.
 *
 * keys(recs, n_pos, parent_pos, bits) -> (id blocks, parent blocks, named parents, top)
 *   id blocks:      set of ints, record[n_pos] >> bits
 *   parent blocks:  set of ints, record[parent_pos] >> bits for parents that are positive ints
 *   named parents:  set of the parents that are non-empty strings (full ids)
 *   top:            True if some parent is 0, None or "" (the record is at the top of its run)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static int add_block(PyObject *set, long long block, long long *last) {
    if (block == *last)
        return 0;
    *last = block;
    PyObject *b = PyLong_FromLongLong(block);
    if (b == NULL)
        return -1;
    int rc = PySet_Add(set, b);
    Py_DECREF(b);
    return rc;
}

static PyObject *keys(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "keys(recs: list, n_pos: int, parent_pos: int, bits: int)");
        return NULL;
    }
    PyObject *recs = args[0];
    Py_ssize_t n_pos = PyLong_AsSsize_t(args[1]), p_pos = PyLong_AsSsize_t(args[2]);
    long bits = PyLong_AsLong(args[3]);
    if (PyErr_Occurred())
        return NULL;
    PyObject *ids = PySet_New(NULL), *parents = PySet_New(NULL), *named = PySet_New(NULL);
    int top = 0;
    long long last_id = -1, last_parent = -1;
    if (ids == NULL || parents == NULL || named == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(recs); i++) {
        PyObject *rec = PyList_GET_ITEM(recs, i);
        if (!PyTuple_Check(rec) || PyTuple_GET_SIZE(rec) <= n_pos || PyTuple_GET_SIZE(rec) <= p_pos) {
            PyErr_SetString(PyExc_TypeError, "a record is not a tuple of the codec's layout");
            goto fail;
        }
        long long n = PyLong_AsLongLong(PyTuple_GET_ITEM(rec, n_pos));
        if (n == -1 && PyErr_Occurred())
            goto fail;
        if (n < 0) {
            PyErr_SetString(PyExc_ValueError, "a record's number is negative");
            goto fail;
        }
        if (add_block(ids, n >> bits, &last_id) < 0)
            goto fail;
        PyObject *p = PyTuple_GET_ITEM(rec, p_pos);
        if (PyLong_CheckExact(p)) {
            long long pn = PyLong_AsLongLong(p);
            if (pn == -1 && PyErr_Occurred())
                goto fail;
            if (pn > 0) {
                if (add_block(parents, pn >> bits, &last_parent) < 0)
                    goto fail;
            }
            else
                top = 1;
        }
        else if (PyUnicode_CheckExact(p) && PyUnicode_GET_LENGTH(p) > 0) {
            if (PySet_Add(named, p) < 0)
                goto fail;
        }
        else
            top = 1;  /* None, "", or anything else: the run is the parent */
    }
    return Py_BuildValue("(NNNO)", ids, parents, named, top ? Py_True : Py_False);
fail:
    Py_XDECREF(ids);
    Py_XDECREF(parents);
    Py_XDECREF(named);
    return NULL;
}

static PyMethodDef methods[] = {
    {"keys", (PyCFunction)(void (*)(void))keys, METH_FASTCALL,
     "keys(recs, n_pos, parent_pos, bits) -> (id blocks, parent blocks, named parents, top)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ckeys", NULL, -1, methods};

PyMODINIT_FUNC PyInit__ckeys(void) { return PyModule_Create(&module); }
