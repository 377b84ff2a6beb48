/* The record expander of both tracers, in C: one packed activation tuple -> one compact
 * Activation node (capture/tracer/_common.py: expand_activation is the Python form and the
 * reference; tests/trial/test_cexpand.py checks that both give the same nodes).
 *
 * It runs where records are stored (the flush thread, or a background store's child), once
 * per activation: the Python form costs ~5 us there, which bounded how fast a long
 * call-heavy program's records could be stored. Values the fast paths below do not cover
 * (summaries of large or unusual objects, copies of mutable containers) go to the Python
 * ``_final``, so the two forms cannot drift apart on them. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Set once by configure(): the Node class, the Python value finaliser, the no-result sentinel,
 * the _Summary and _Copy classes. What differs per capturing process (its call sites, id prefix
 * and repr limit) comes with each call, in a kg.segments.Ctx. */
static PyObject *g_node, *g_final, *g_no_result, *g_summary, *g_copy, *g_order;
static PyObject *s_activity, *s_activation, *s_user, *s_type, *s_size, *s_repr, *s_ellipsis;
static PyObject *k_run, *k_name, *k_parent, *k_started, *k_ended, *k_status, *k_line, *k_call,
    *k_used, *k_generated, *k_return, *k_yield, *k_error_type, *k_error, *a_kind, *a_argnames,
    *a_limit, *a_v, *a_tp, *a_items, *a_sites, *a_prefix;

static int
intern(PyObject **slot, const char *text)
{
    *slot = PyUnicode_InternFromString(text);
    return *slot == NULL ? -1 : 0;
}

/* True if sys.getsizeof(x) is certainly at most `bound` for this atom (else: ask Python). */
static int
small_atom(PyObject *x, Py_ssize_t bound)
{
    PyTypeObject *t = Py_TYPE(x);
    if (x == Py_None || t == &PyFloat_Type || t == &PyBool_Type)
        return bound >= 32;
    if (t == &PyLong_Type) {
        int overflow = 0;
        (void)PyLong_AsLongLongAndOverflow(x, &overflow);
        return !overflow && bound >= 40;
    }
    if (t == &PyUnicode_Type)  /* one byte per character: header (<= 80 bytes) + length + 1 */
        return PyUnicode_KIND(x) == PyUnicode_1BYTE_KIND && PyUnicode_GET_LENGTH(x) + 81 <= bound;
    return 0;
}

/* _small(tp, items) of the Python form, for a tuple or frozenset `v` of small atoms (tp: its
 * type, or the list/set type a _Copy was taken of); NULL with no error set when the fast path
 * does not apply. */
static PyObject *
small_container(PyTypeObject *tp, PyObject *v, Py_ssize_t limit)
{
    Py_ssize_t bound = 4 * limit, n;
    PyObject *item, *r, *out;
    if (PyTuple_CheckExact(v)) {
        n = PyTuple_GET_SIZE(v);
        for (Py_ssize_t i = 0; i < n; i++)
            if (!small_atom(PyTuple_GET_ITEM(v, i), bound))
                return NULL;
    }
    else {
        PyObject *it = PyObject_GetIter(v);
        int ok = 1;
        if (it == NULL)
            return NULL;
        n = PySet_GET_SIZE(v);
        while (ok && (item = PyIter_Next(it)) != NULL) {
            ok = small_atom(item, bound);
            Py_DECREF(item);
        }
        Py_DECREF(it);
        if (!ok || PyErr_Occurred())
            return NULL;
    }
    if (tp == Py_TYPE(v))
        r = PyObject_Repr(v);
    else {
        PyObject *copy = PyObject_CallOneArg((PyObject *)tp, v);
        if (copy == NULL)
            return NULL;
        r = PyObject_Repr(copy);
        Py_DECREF(copy);
    }
    if (r == NULL)
        return NULL;
    if (PyUnicode_GET_LENGTH(r) > limit) {
        PyObject *head = PyUnicode_Substring(r, 0, limit);
        Py_DECREF(r);
        if (head == NULL)
            return NULL;
        r = PyUnicode_Concat(head, s_ellipsis);
        Py_DECREF(head);
        if (r == NULL)
            return NULL;
    }
    out = Py_BuildValue("{OsOnOO}", s_type, tp->tp_name, s_size, n, s_repr, r);
    Py_DECREF(r);
    return out;
}

/* _final(v): the stored form of an argument or return value. */
static PyObject *
final(PyObject *v, Py_ssize_t limit)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyLong_Type || t == &PyBool_Type || v == Py_None || t == &PyDict_Type)
        return Py_NewRef(v);  /* a dict is a summary made at call time */
    if (t == &PyFloat_Type) {
        double d = PyFloat_AS_DOUBLE(v);
        if (d == d)
            return Py_NewRef(v);
    }
    else if (t == &PyUnicode_Type) {
        if (PyUnicode_GET_LENGTH(v) <= limit)
            return Py_NewRef(v);
    }
    else if (t == &PyList_Type) {  /* a small list of atoms, copied at call time */
        PyObject *items = PyList_AsTuple(v), *out;
        if (items == NULL)
            return NULL;
        out = small_container(&PyList_Type, items, limit);
        Py_DECREF(items);
        if (out != NULL || PyErr_Occurred())
            return out;
    }
    else if ((PyObject *)t == g_summary) {
        return PyObject_GetAttr(v, a_v);
    }
    else if (t == &PyTuple_Type || t == &PyFrozenSet_Type) {
        PyObject *out = small_container(t, v, limit);
        if (out != NULL || PyErr_Occurred())
            return out;
    }
    else if ((PyObject *)t == g_copy) {  /* a set of atoms copied at call time */
        PyObject *tp = PyObject_GetAttr(v, a_tp), *items = PyObject_GetAttr(v, a_items), *out = NULL;
        if (tp != NULL && items != NULL && (tp == (PyObject *)&PyList_Type || tp == (PyObject *)&PySet_Type)
            && PyTuple_CheckExact(items))
            out = small_container((PyTypeObject *)tp, items, limit);
        Py_XDECREF(tp);
        Py_XDECREF(items);
        if (out != NULL || PyErr_Occurred())
            return out;
    }
    PyObject *lim = PyLong_FromSsize_t(limit), *out;
    if (lim == NULL)
        return NULL;
    out = PyObject_CallFunctionObjArgs(g_final, v, lim, NULL);
    Py_DECREF(lim);
    return out;
}

/* "a-<prefix>.<number in hex>", as kg.ids.new_id makes it (printf-free: this runs twice per record). */
static PyObject *
act_id(PyObject *prefix, PyObject *number)
{
    static const char digits[] = "0123456789abcdef";
    char buf[128], hex[17];
    Py_ssize_t plen, h = 0;
    const char *p = PyUnicode_AsUTF8AndSize(prefix, &plen);
    unsigned long long n = PyLong_AsUnsignedLongLong(number);
    if (p == NULL || (n == (unsigned long long)-1 && PyErr_Occurred()))
        return NULL;
    char rev[16];
    do {
        rev[h++] = digits[n & 15];
        n >>= 4;
    } while (n);
    for (Py_ssize_t i = 0; i < h; i++)
        hex[i] = rev[h - 1 - i];
    hex[h] = '\0';
    if (plen > (Py_ssize_t)sizeof buf - 20)  /* never: prefixes are short */
        return PyUnicode_FromFormat("a-%U.%s", prefix, hex);
    buf[0] = 'a';
    buf[1] = '-';
    memcpy(buf + 2, p, plen);
    buf[2 + plen] = '.';
    memcpy(buf + 3 + plen, hex, h);
    return PyUnicode_DecodeUTF8(buf, 3 + plen + h, NULL);
}

static int
set_item(PyObject *d, PyObject *key, PyObject *value)  /* steals value */
{
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItem(d, key, value);
    Py_DECREF(value);
    return rc;
}

/* The values of `args` under the site's argument names (or arg0, arg1...): the `used` prop. */
static PyObject *
used_of(PyObject *site, PyObject *args, Py_ssize_t limit)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    PyObject *names = PyObject_GetAttr(site, a_argnames), *used = PyDict_New();
    if (names == NULL || used == NULL || !PyTuple_Check(names))
        goto fail;
    int positional = PyTuple_GET_SIZE(names) != n;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key = positional ? PyUnicode_FromFormat("arg%zd", i) : Py_NewRef(PyTuple_GET_ITEM(names, i));
        if (key == NULL)
            goto fail;
        int rc = set_item(used, key, final(PyTuple_GET_ITEM(args, i), limit));
        Py_DECREF(key);
        if (rc < 0)
            goto fail;
    }
    Py_DECREF(names);
    return used;
fail:
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "site argnames must be a tuple");
    Py_XDECREF(names);
    Py_XDECREF(used);
    return NULL;
}

static PyObject *
expand(PyObject *self, PyObject *const *argv, Py_ssize_t argc)
{
    PyObject *item, *nodes, *ctx, *sites, *site, *props = NULL, *prefix = NULL, *limit_obj, *node = NULL, *id = NULL;
    Py_ssize_t limit;
    if (argc != 4 || !PyTuple_CheckExact(argv[0]) || PyTuple_GET_SIZE(argv[0]) != 13 || !PyList_Check(argv[1])) {
        PyErr_SetString(PyExc_TypeError, "expand(item: 13-tuple, nodes: list, edges: list, ctx)");
        return NULL;
    }
    if (g_node == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_cexpand.configure() was not called");
        return NULL;
    }
    item = argv[0];
    nodes = argv[1];
    ctx = argv[3];
    /* (code, n, parent, run, site_idx, line, t0, t1, args, result, status, err, extra) */
    PyObject *n = PyTuple_GET_ITEM(item, 1), *parent = PyTuple_GET_ITEM(item, 2), *run = PyTuple_GET_ITEM(item, 3),
             *line = PyTuple_GET_ITEM(item, 5), *args = PyTuple_GET_ITEM(item, 8), *result = PyTuple_GET_ITEM(item, 9),
             *status = PyTuple_GET_ITEM(item, 10), *err = PyTuple_GET_ITEM(item, 11), *extra = PyTuple_GET_ITEM(item, 12);
    Py_ssize_t idx = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 4));
    if (idx == -1 && PyErr_Occurred())
        return NULL;
    sites = PyObject_GetAttr(ctx, a_sites);
    if (sites == NULL)
        return NULL;
    if (!PyList_Check(sites)) {
        Py_DECREF(sites);
        PyErr_SetString(PyExc_TypeError, "ctx.sites must be a list");
        return NULL;
    }
    site = PyList_GetItem(sites, idx);  /* borrowed; IndexError when out of range */
    Py_XINCREF(site);
    Py_DECREF(sites);
    if (site == NULL)
        return NULL;
    limit_obj = PyObject_GetAttr(ctx, a_limit);
    if (limit_obj == NULL)
        goto fail;
    limit = PyLong_AsSsize_t(limit_obj);
    Py_DECREF(limit_obj);
    if (limit == -1 && PyErr_Occurred())
        goto fail;
    prefix = PyObject_GetAttr(ctx, a_prefix);
    if (prefix == NULL || (props = PyDict_New()) == NULL)
        goto fail;
    if (!PyUnicode_Check(prefix)) {
        PyErr_SetString(PyExc_TypeError, "ctx.prefix must be a str");
        goto fail;
    }

    /* Props in the order the embedded store gives nodes back (kg.model.records.stored_order):
     * the others first, then run, name, status, parent, started, ended. */
    int truth = PyObject_IsTrue(line);
    if (truth < 0 || (truth && PyDict_SetItem(props, k_line, line) < 0))
        goto fail;
    PyObject *kind = PyObject_GetAttr(site, a_kind);
    if (kind == NULL)
        goto fail;
    int user = PyUnicode_Check(kind) && PyUnicode_Compare(kind, s_user) == 0;
    if (!user && PyDict_SetItem(props, k_call, kind) < 0) {
        Py_DECREF(kind);
        goto fail;
    }
    Py_DECREF(kind);
    truth = PyObject_IsTrue(args);
    if (truth < 0)
        goto fail;
    if (truth) {
        if (!PyTuple_Check(args)) {
            PyErr_SetString(PyExc_TypeError, "activation arguments must be a tuple");
            goto fail;
        }
        if (set_item(props, k_used, used_of(site, args, limit)) < 0)
            goto fail;
    }
    PyObject *gen_key = NULL;
    if (PyUnicode_Check(status) && PyUnicode_CompareWithASCIIString(status, "FINISHED") == 0) {
        if (result != g_no_result)
            gen_key = k_return;
    }
    else if (PyUnicode_Check(status) && PyUnicode_CompareWithASCIIString(status, "YIELDED") == 0)
        gen_key = k_yield;
    if (gen_key != NULL) {
        PyObject *value = final(result, limit), *gen;
        if (value == NULL)
            goto fail;
        gen = PyDict_New();
        if (gen == NULL || set_item(gen, gen_key, value) < 0) {
            Py_XDECREF(gen);
            goto fail;
        }
        if (set_item(props, k_generated, gen) < 0)
            goto fail;
    }
    truth = PyObject_IsTrue(err);
    if (truth < 0)
        goto fail;
    if (truth) {
        PyObject *pair = PySequence_Tuple(err);
        if (pair == NULL)
            goto fail;
        if (PyTuple_GET_SIZE(pair) != 2) {
            Py_DECREF(pair);
            PyErr_SetString(PyExc_ValueError, "activation error must be (type, message)");
            goto fail;
        }
        int rc = PyDict_SetItem(props, k_error_type, PyTuple_GET_ITEM(pair, 0)) < 0
                 || PyDict_SetItem(props, k_error, PyTuple_GET_ITEM(pair, 1)) < 0;
        Py_DECREF(pair);
        if (rc)
            goto fail;
    }
    if (PyDict_SetItem(props, k_run, run) < 0 || set_item(props, k_name, PyObject_GetAttr(site, k_name)) < 0
        || PyDict_SetItem(props, k_status, status) < 0)
        goto fail;
    int has_parent = PyObject_IsTrue(parent);
    if (has_parent < 0)
        goto fail;
    if (has_parent ? set_item(props, k_parent, act_id(prefix, parent)) < 0 : PyDict_SetItem(props, k_parent, run) < 0)
        goto fail;
    if (PyDict_SetItem(props, k_started, PyTuple_GET_ITEM(item, 6)) < 0
        || PyDict_SetItem(props, k_ended, PyTuple_GET_ITEM(item, 7)) < 0)
        goto fail;
    truth = PyObject_IsTrue(extra);
    if (truth < 0)
        goto fail;
    if (truth) {  /* rare: merged, then put back in the stored order by the Python function */
        if (PyDict_Update(props, extra) < 0)
            goto fail;
        PyObject *ordered = PyObject_CallOneArg(g_order, props);
        if (ordered == NULL)
            goto fail;
        Py_SETREF(props, ordered);
    }

    id = act_id(prefix, n);
    if (id == NULL)
        goto fail;
    {
        /* tuple.__new__(Node, ...): the named tuple without its Python-level __new__ */
        PyObject *fields = PyTuple_Pack(4, id, s_activity, s_activation, props), *wrap;
        if (fields == NULL)
            goto fail;
        wrap = PyTuple_Pack(1, fields);
        Py_DECREF(fields);
        if (wrap == NULL)
            goto fail;
        node = PyTuple_Type.tp_new((PyTypeObject *)g_node, wrap, NULL);
        Py_DECREF(wrap);
    }
    if (node == NULL || PyList_Append(nodes, node) < 0)
        goto fail;
    Py_DECREF(node);
    Py_DECREF(id);
    Py_DECREF(props);
    Py_DECREF(prefix);
    Py_DECREF(site);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(node);
    Py_XDECREF(id);
    Py_XDECREF(props);
    Py_XDECREF(prefix);
    Py_DECREF(site);
    return NULL;
}

static PyObject *
configure(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"node", "final", "no_result", "summary", "copy", "order", NULL};
    PyObject *v[6];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOO:configure", names, &v[0], &v[1], &v[2], &v[3], &v[4],
                                     &v[5]))
        return NULL;
    if (!PyType_Check(v[0]) || !PyType_IsSubtype((PyTypeObject *)v[0], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "node must be a tuple subclass (a NamedTuple)");
        return NULL;
    }
    PyObject **slots[6] = {&g_node, &g_final, &g_no_result, &g_summary, &g_copy, &g_order};
    for (int i = 0; i < 6; i++)
        Py_XSETREF(*slots[i], Py_NewRef(v[i]));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"expand", (PyCFunction)(void (*)(void))expand, METH_FASTCALL,
     "expand(item, nodes, edges, ctx): append the Activation node of a packed activation to nodes."},
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS,
     "configure(node, final, no_result, summary, copy, order): what expand reads besides its ctx."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cexpand", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__cexpand(void)
{
    struct { PyObject **slot; const char *text; } strings[] = {
        {&s_activity, "Activity"}, {&s_activation, "Activation"}, {&s_user, "user"}, {&s_type, "type"},
        {&s_size, "size"}, {&s_repr, "repr"}, {&s_ellipsis, "\xe2\x80\xa6"}, {&k_run, "run"}, {&k_name, "name"},
        {&k_parent, "parent"}, {&k_started, "started"}, {&k_ended, "ended"}, {&k_status, "status"},
        {&k_line, "line"}, {&k_call, "call"}, {&k_used, "used"}, {&k_generated, "generated"},
        {&k_return, "return"}, {&k_yield, "yield"}, {&k_error_type, "error_type"}, {&k_error, "error"},
        {&a_kind, "kind"}, {&a_argnames, "argnames"}, {&a_limit, "limit"}, {&a_v, "v"},
        {&a_tp, "tp"}, {&a_items, "items"}, {&a_sites, "sites"}, {&a_prefix, "prefix"},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (intern(strings[i].slot, strings[i].text) < 0)
            return NULL;
    return PyModule_Create(&module);
}
