/* reprlib in C for builtin containers of builtin values: what capture.values._Repr (with the limits
   of capture.values._repr: 3 levels, 8 items a container, `limit` characters a string, number or
   other value) makes of them, character for character. A program that passes lists, dicts or sets
   to its functions spent most of `kg run --values full` in reprlib's Python (a puzzle solver: 40 s
   of 46). Included by _cprofile.c, after cut().

   Set items and dict keys must be builtin values (sorting them runs no program code); other
   items may be any object reprlib shows by its repr (cr_instance).

   Each function returns a new reference, or NULL: with an exception set on a real error, without
   one for a value it does not handle (anywhere inside): the Python reprlib decides. */

#define CR_ITEMS 8   /* maxlist, maxtuple, maxset, maxfrozenset, maxdict */
#define CR_BIG 64    /* capture.values._Repr.BIG: larger sets and dicts show their first items only */

static PyObject *cr_repr1(PyObject *x, int level, Py_ssize_t limit);

/* An object of any other type inside a container: reprlib's repr_instance (the object's repr,
   within the repr budget, cut at the limit) where reprlib would use it. Defined in _cprofile.c. */
static PyObject *cr_instance(PyObject *x, Py_ssize_t limit);

/* Constant texts, made once (cr_init). */
static PyObject *cr_dots, *cr_sep;

/* A frozenset never changes: its repr is made once per level (capture.values._Repr does the same).
   Programs keep tables of them and pass them around: re-sorting the same small sets at every call
   was most of the C path's time on a puzzle solver. Keyed by identity (equal sets may differ in
   repr: frozenset({1}) == frozenset({True})), holding the set so its address is not reused;
   cleared when full or when the limit changes. */
#define CR_KEPT 4096
static PyObject *cr_frozen[4];
static Py_ssize_t cr_frozen_limit = -1;

static int cr_init(void) {
    cr_dots = PyUnicode_InternFromString("...");
    cr_sep = PyUnicode_InternFromString(", ");
    for (int i = 0; i < 4; i++)
        if ((cr_frozen[i] = PyDict_New()) == NULL) return -1;
    return cr_dots && cr_sep ? 0 : -1;
}

static int cr_handled(PyObject *x) {
    PyTypeObject *t = Py_TYPE(x);
    return t == &PyUnicode_Type || t == &PyLong_Type || t == &PyFloat_Type || t == &PyBool_Type ||
           x == Py_None || t == &PyBytes_Type || t == &PyComplex_Type || t == &PyTuple_Type ||
           t == &PyList_Type || t == &PyDict_Type || t == &PySet_Type || t == &PyFrozenSet_Type;
}

/* s[:i] + "..." + s[len(s)-j:] (reprlib's cut of a long text). New reference. */
static PyObject *cr_splice(PyObject *s, Py_ssize_t i, Py_ssize_t j) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    PyObject *out = PyUnicode_Substring(s, 0, i < n ? i : n), *tail = NULL, *r = NULL;
    if (out == NULL) return NULL;
    if ((tail = PyUnicode_Substring(s, j < n ? n - j : 0, n)) != NULL) {
        PyUnicode_Append(&out, cr_dots);
        if (out != NULL) PyUnicode_Append(&out, tail);
        r = out;
        out = NULL;
    }
    Py_XDECREF(out);
    Py_XDECREF(tail);
    return r;
}

static void cr_ij(Py_ssize_t limit, Py_ssize_t *i, Py_ssize_t *j) {
    *i = limit >= 3 ? (limit - 3) / 2 : 0;
    *j = limit - 3 - *i > 0 ? limit - 3 - *i : 0;
}

/* reprlib.Repr.repr_str */
static PyObject *cr_str(PyObject *x, Py_ssize_t limit) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(x), i, j;
    PyObject *head = PyUnicode_Substring(x, 0, limit < n ? limit : n);
    if (head == NULL) return NULL;
    PyObject *s = PyObject_Repr(head);
    Py_DECREF(head);
    if (s == NULL || PyUnicode_GET_LENGTH(s) <= limit) return s;
    Py_DECREF(s);
    cr_ij(limit, &i, &j);
    PyObject *a = PyUnicode_Substring(x, 0, i < n ? i : n), *b = PyUnicode_Substring(x, j < n ? n - j : 0, n);
    PyObject *ab = a && b ? PyUnicode_Concat(a, b) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    if (ab == NULL) return NULL;
    s = PyObject_Repr(ab);
    Py_DECREF(ab);
    if (s == NULL) return NULL;
    PyObject *r = cr_splice(s, i, j);
    Py_DECREF(s);
    return r;
}

/* pieces joined by ", ", between left and right (reprlib.Repr._repr_iterable, and repr_dict's
   join). Steals pieces. */
static PyObject *cr_wrap(const char *left, PyObject *pieces, const char *right) {
    PyObject *l = PyUnicode_FromString(left), *r = PyUnicode_FromString(right);
    PyObject *body = pieces ? PyUnicode_Join(cr_sep, pieces) : NULL, *out = NULL;
    if (body != NULL && l != NULL && r != NULL) {
        out = l;
        l = NULL;
        PyUnicode_Append(&out, body);
        if (out != NULL) PyUnicode_Append(&out, r);
    }
    Py_XDECREF(l); Py_XDECREF(r); Py_XDECREF(body); Py_XDECREF(pieces);
    return out;
}

/* reprlib.Repr._repr_iterable over items[0:n]. */
static PyObject *cr_iterable(PyObject **items, Py_ssize_t n, int level, const char *left, const char *right,
                             int trail, Py_ssize_t limit) {
    if (level <= 0 && n) return cr_wrap(left, Py_BuildValue("[O]", cr_dots), right);
    PyObject *pieces = PyList_New(0);
    for (Py_ssize_t k = 0; pieces != NULL && k < n && k < CR_ITEMS; k++) {
        PyObject *p = cr_repr1(items[k], level - 1, limit);
        if (p == NULL || PyList_Append(pieces, p) < 0) Py_CLEAR(pieces);
        Py_XDECREF(p);
    }
    if (pieces != NULL && n > CR_ITEMS && PyList_Append(pieces, cr_dots) < 0) Py_CLEAR(pieces);
    if (pieces == NULL) return NULL;
    return cr_wrap(left, pieces, n == 1 && trail ? ",)" : right);
}

/* reprlib's _possibly_sorted of what capture.values._Repr keeps of a set or of a dict's keys: all
   of a small one, the first CR_ITEMS + 1 of a big one; sorted, or in iteration order where they do
   not sort. NULL without an error if an item is not handled (its comparison could run the
   program's code). */
static PyObject *cr_sorted(PyObject *x) {
    Py_ssize_t n = PySet_Check(x) || PyFrozenSet_Check(x) ? PySet_GET_SIZE(x) : PyDict_GET_SIZE(x);
    Py_ssize_t keep = n > CR_BIG ? CR_ITEMS + 1 : n;
    PyObject *it = PyObject_GetIter(x), *item, *items = PyList_New(0);
    if (it == NULL || items == NULL) { Py_XDECREF(it); Py_XDECREF(items); return NULL; }
    while (PyList_GET_SIZE(items) < keep && (item = PyIter_Next(it)) != NULL) {
        int ok = cr_handled(item) && PyList_Append(items, item) == 0;
        Py_DECREF(item);
        if (!ok) { Py_CLEAR(items); break; }
    }
    Py_DECREF(it);
    if (items == NULL || PyErr_Occurred()) { Py_XDECREF(items); return NULL; }
    PyObject *sorted = PyList_GetSlice(items, 0, PyList_GET_SIZE(items));
    if (sorted != NULL && PyList_Sort(sorted) == 0) {
        Py_DECREF(items);
        return sorted;
    }
    Py_XDECREF(sorted);
    PyErr_Clear();  /* sorted() failed: reprlib keeps the iteration order */
    return items;
}

static PyObject *cr_set(PyObject *x, int level, Py_ssize_t limit) {
    int frozen = PyFrozenSet_CheckExact(x);
    if (PySet_GET_SIZE(x) == 0) return PyUnicode_FromString(frozen ? "frozenset()" : "set()");
    PyObject *kept = NULL, *key = NULL;
    if (frozen && level >= 0 && level < 4) {
        if (limit != cr_frozen_limit) {
            for (int i = 0; i < 4; i++) PyDict_Clear(cr_frozen[i]);
            cr_frozen_limit = limit;
        }
        kept = cr_frozen[level];
        key = PyLong_FromVoidPtr(x);
        if (key == NULL) return NULL;
        PyObject *pair = PyDict_GetItemWithError(kept, key);  /* (set, repr) */
        if (pair != NULL && PyTuple_GET_ITEM(pair, 0) == x) {
            Py_DECREF(key);
            Py_INCREF(PyTuple_GET_ITEM(pair, 1));
            return PyTuple_GET_ITEM(pair, 1);
        }
        if (PyErr_Occurred()) { Py_DECREF(key); return NULL; }
    }
    PyObject *items = cr_sorted(x);
    if (items == NULL) return NULL;
    PyObject *r = cr_iterable(&PyList_GET_ITEM(items, 0), PyList_GET_SIZE(items), level,
                              frozen ? "frozenset({" : "{", frozen ? "})" : "}", 0, limit);
    Py_DECREF(items);
    if (r != NULL && key != NULL) {
        if (PyDict_GET_SIZE(kept) >= CR_KEPT) PyDict_Clear(kept);
        PyObject *pair = PyTuple_Pack(2, x, r);
        if (pair == NULL || PyDict_SetItem(kept, key, pair) < 0) Py_CLEAR(r);
        Py_XDECREF(pair);
    }
    Py_XDECREF(key);
    return r;
}

static PyObject *cr_dict(PyObject *x, int level, Py_ssize_t limit) {
    if (PyDict_GET_SIZE(x) == 0) return PyUnicode_FromString("{}");
    if (level <= 0) return PyUnicode_FromString("{...}");
    PyObject *keys = cr_sorted(x);
    if (keys == NULL) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(keys);
    PyObject *pieces = PyList_New(0);
    for (Py_ssize_t k = 0; pieces != NULL && k < n && k < CR_ITEMS; k++) {
        PyObject *key = PyList_GET_ITEM(keys, k);
        PyObject *val = PyDict_GetItemWithError(x, key);  /* borrowed: held while reprs run */
        Py_XINCREF(val);
        PyObject *kr = val ? cr_repr1(key, level - 1, limit) : NULL;
        PyObject *vr = kr ? cr_repr1(val, level - 1, limit) : NULL;
        PyObject *p = vr ? PyUnicode_FromFormat("%U: %U", kr, vr) : NULL;
        if (p == NULL || PyList_Append(pieces, p) < 0) Py_CLEAR(pieces);
        Py_XDECREF(val); Py_XDECREF(kr); Py_XDECREF(vr); Py_XDECREF(p);
    }
    if (pieces != NULL && n > CR_ITEMS && PyList_Append(pieces, cr_dots) < 0) Py_CLEAR(pieces);
    Py_DECREF(keys);
    return pieces ? cr_wrap("{", pieces, "}") : NULL;
}

static PyObject *cr_repr1(PyObject *x, int level, Py_ssize_t limit) {
    PyTypeObject *t = Py_TYPE(x);
    if (t == &PyUnicode_Type) return cr_str(x, limit);
    if (t == &PyTuple_Type) return cr_iterable(&PyTuple_GET_ITEM(x, 0), PyTuple_GET_SIZE(x), level, "(", ")", 1, limit);
    if (t == &PyList_Type) {
        /* a copy of the item pointers: repr of an item cannot change the list, but keep it simple */
        PyObject *items = PyList_GetSlice(x, 0, CR_ITEMS);
        if (items == NULL) return NULL;
        PyObject *r = cr_iterable(&PyList_GET_ITEM(items, 0), PyList_GET_SIZE(x) > CR_ITEMS ? PyList_GET_SIZE(x)
                                  : PyList_GET_SIZE(items), level, "[", "]", 0, limit);
        Py_DECREF(items);
        return r;
    }
    if (t == &PyDict_Type) return cr_dict(x, level, limit);
    if (t == &PySet_Type || t == &PyFrozenSet_Type) return cr_set(x, level, limit);
    if (!cr_handled(x)) return cr_instance(x, limit);
    /* int (repr_int), and float, bool, None, bytes, complex (repr_instance): repr, cut at limit */
    PyObject *s = PyObject_Repr(x);
    return s ? cut(s, limit) : NULL;
}
