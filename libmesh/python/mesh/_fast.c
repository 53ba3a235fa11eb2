/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh._fast: the verifier's hot path as a CPython extension. mesh.Verifier uses it when it
 * imports (mesh.fast is True), else the ctypes path in verifier.py.
 *
 * ctypes costs about 1.4 us per cached verification (argument conversion, the foreign call,
 * a Python Identity object and its release) where libmesh spends 0.3 us. Here verify() is
 * one C method: it converts its arguments, calls mesh_verify without the GIL and returns an
 * Identity object that holds libmesh's identity and reads each field on first use.
 *
 * Only libmesh's public headers; the verifier handle is created by the ctypes code (the
 * options surface stays in one place) and handed over as an address. _lib.py loads
 * libmesh.so.0 before this module is imported, so the dynamic linker resolves this module's
 * libmesh.so.0 to that same object (same soname); mesh/verifier.py checks it with
 * mesh_verify_address() before using the fast path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <mesh/error.h>
#include <mesh/jwt.h>
#include <mesh/verifier.h>

PyMODINIT_FUNC PyInit__fast(void);

/* Set by setup(): mesh.MeshError (raised for libmesh failures) and verifier._pem_leaf_der
 * (a PEM's leaf as DER, for a verifier without a trust bundle). */
static PyObject *mesh_error_cls;
static PyObject *pem_leaf_der;

/* Raises MeshError(code, detail, context); `detail` read by the caller on the thread of the
 * failed call (it is thread-local in libmesh). */
static PyObject *raise_mesh(mesh_err_t rc, const char *detail, const char *context)
{
    if (mesh_error_cls == NULL) {
        PyErr_Format(PyExc_RuntimeError, "mesh._fast: setup() not called (libmesh error %d)",
                     (int)rc);
        return NULL;
    }
    PyObject *d = PyUnicode_DecodeUTF8(detail ? detail : "",
                                       detail ? (Py_ssize_t)strlen(detail) : 0, "replace");
    if (d == NULL) {
        return NULL;
    }
    PyObject *exc = PyObject_CallFunction(mesh_error_cls, "iOs", (int)rc, d, context);
    Py_DECREF(d);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* A str argument as UTF-8 (borrowed from the str); NULL for None when `none_ok`. A NUL
 * inside is a ValueError naming `name` (C would cut the string there). Returns false with
 * an exception set. */
static bool arg_str(PyObject *o, const char *name, bool none_ok, const char **out)
{
    if (o == NULL || (none_ok && o == Py_None)) {
        *out = NULL;
        return true;
    }
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s: expected str, got %s", name, Py_TYPE(o)->tp_name);
        return false;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(o, &len);
    if (s == NULL) {
        return false;
    }
    if (memchr(s, '\0', (size_t)len) != NULL) {
        PyErr_Format(PyExc_ValueError, "%s: contains a NUL character", name);
        return false;
    }
    *out = s;
    return true;
}

/* ---- Identity ------------------------------------------------------------------------ */

typedef struct {
    PyObject ob_base; /* PyObject_HEAD */
    mesh_identity_t *id;
    PyObject *weakrefs;
} IdentityObject;

static PyTypeObject Identity_Type;

static void Identity_dealloc(IdentityObject *self)
{
    if (self->weakrefs != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    mesh_identity_free(self->id);
    PyObject_Free(self);
}

static PyObject *text(const char *s)
{
    return PyUnicode_DecodeUTF8(s ? s : "", s ? (Py_ssize_t)strlen(s) : 0, NULL);
}

static PyObject *Identity_issuer(IdentityObject *self, void *c)
{
    return text(mesh_identity_issuer(self->id));
}
static PyObject *Identity_subject(IdentityObject *self, void *c)
{
    return text(mesh_identity_subject(self->id));
}
static PyObject *Identity_audience(IdentityObject *self, void *c)
{
    return text(mesh_identity_audience(self->id));
}
static PyObject *Identity_scope(IdentityObject *self, void *c)
{
    return text(mesh_identity_scopes(self->id));
}
static PyObject *Identity_scopes(IdentityObject *self, void *c)
{
    PyObject *s = text(mesh_identity_scopes(self->id));
    if (s == NULL) {
        return NULL;
    }
    PyObject *list = PyUnicode_Split(s, NULL, -1);
    Py_DECREF(s);
    return list;
}
static PyObject *Identity_token_id(IdentityObject *self, void *c)
{
    return text(mesh_identity_jti(self->id));
}
static PyObject *Identity_client_id(IdentityObject *self, void *c)
{
    return text(mesh_identity_client_id(self->id));
}
static PyObject *Identity_x5t(IdentityObject *self, void *c)
{
    return text(mesh_identity_x5t(self->id));
}
static PyObject *Identity_expiry(IdentityObject *self, void *c)
{
    return PyLong_FromLongLong((long long)mesh_identity_expiry(self->id));
}
static PyObject *Identity_issued_at(IdentityObject *self, void *c)
{
    return PyLong_FromLongLong((long long)mesh_identity_issued_at(self->id));
}
static PyObject *Identity_bound(IdentityObject *self, void *c)
{
    return PyBool_FromLong(mesh_identity_bound(self->id));
}

static PyGetSetDef Identity_getset[] = {
    {"issuer", (getter)Identity_issuer, NULL, "iss", NULL},
    {"subject", (getter)Identity_subject, NULL,
     "sub: the caller's SPIFFE ID, or svc-token:<name> for a service token.", NULL},
    {"audience", (getter)Identity_audience, NULL,
     "The first of the verifier's audiences that the token's aud names.", NULL},
    {"scope", (getter)Identity_scope, NULL, "The token's scopes, space-separated (\"\" for none).",
     NULL},
    {"scopes", (getter)Identity_scopes, NULL, "The token's scopes as a list.", NULL},
    {"token_id", (getter)Identity_token_id, NULL, "jti (\"\" when absent).", NULL},
    {"client_id", (getter)Identity_client_id, NULL, "client_id (\"\" when absent).", NULL},
    {"x5t", (getter)Identity_x5t, NULL, "cnf.x5t#S256 (\"\" for an unbound token).", NULL},
    {"expiry", (getter)Identity_expiry, NULL, "exp, seconds since the epoch.", NULL},
    {"issued_at", (getter)Identity_issued_at, NULL, "iat", NULL},
    {"bound", (getter)Identity_bound, NULL,
     "True when the token was bound to the certificate that presented it.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyObject *Identity_has_scope(IdentityObject *self, PyObject *arg)
{
    const char *s;
    if (!arg_str(arg, "scope", false, &s)) {
        return NULL;
    }
    return PyBool_FromLong(mesh_identity_has_scope(self->id, s));
}

static PyObject *Identity_has_audience(IdentityObject *self, PyObject *arg)
{
    const char *s;
    if (!arg_str(arg, "audience", false, &s)) {
        return NULL;
    }
    return PyBool_FromLong(mesh_identity_has_audience(self->id, s));
}

/* A string libmesh returned as new, as a str; frees it. */
static PyObject *take(char *s)
{
    PyObject *r = text(s);
    mesh_free(s);
    return r;
}

static PyObject *Identity_claim(IdentityObject *self, PyObject *arg)
{
    const char *name;
    if (!arg_str(arg, "name", false, &name)) {
        return NULL;
    }
    char *out = NULL;
    mesh_err_t rc = mesh_identity_claim(self->id, name, &out);
    if (rc == MESH_ERR_NOT_FOUND) {
        Py_RETURN_NONE;
    }
    if (rc != MESH_OK) {
        PyObject *ctx = PyUnicode_FromFormat("claim %s", name);
        if (ctx == NULL) {
            return NULL;
        }
        raise_mesh(rc, mesh_err_detail(), PyUnicode_AsUTF8(ctx));
        Py_DECREF(ctx);
        return NULL;
    }
    return take(out);
}

static PyObject *Identity_claims_json(IdentityObject *self, PyObject *unused)
{
    char *out = NULL;
    mesh_err_t rc = mesh_identity_to_json(self->id, &out);
    if (rc != MESH_OK) {
        return raise_mesh(rc, mesh_err_detail(), "claims");
    }
    return take(out);
}

static PyObject *Identity_repr(IdentityObject *self)
{
    PyObject *sub = Identity_subject(self, NULL);
    PyObject *aud = Identity_audience(self, NULL);
    PyObject *scope = Identity_scope(self, NULL);
    PyObject *r = NULL;
    if (sub != NULL && aud != NULL && scope != NULL) {
        r = PyUnicode_FromFormat("Identity(subject=%R, audience=%R, scope=%R)", sub, aud, scope);
    }
    Py_XDECREF(sub);
    Py_XDECREF(aud);
    Py_XDECREF(scope);
    return r;
}

static PyMethodDef Identity_methods[] = {
    {"has_scope", (PyCFunction)Identity_has_scope, METH_O,
     "True when `scope` is exactly one of the token's scopes."},
    {"has_audience", (PyCFunction)Identity_has_audience, METH_O,
     "True when the token's aud names `audience` (a string or one array element)."},
    {"claim", (PyCFunction)Identity_claim, METH_O,
     "One top-level claim as text (a string as is, anything else as compact JSON); None "
     "when the token has no such claim."},
    {"claims_json", (PyCFunction)Identity_claims_json, METH_NOARGS,
     "The token's whole claims object as compact JSON."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Identity_Type = {
    /* PyVarObject_HEAD_INIT ends with a comma, which clang-format does not know */
    /* clang-format off */
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mesh.Identity",
    /* clang-format on */
    .tp_basicsize = sizeof(IdentityObject),
    .tp_dealloc = (destructor)Identity_dealloc,
    .tp_repr = (reprfunc)Identity_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A verified caller: what its token said (the compiled path). Immutable; any "
              "thread may read it. Each attribute is read from libmesh's identity on use.",
    .tp_weaklistoffset = offsetof(IdentityObject, weakrefs),
    .tp_methods = Identity_methods,
    .tp_getset = Identity_getset,
};

/* ---- Core: one verifier handle ------------------------------------------------------- */

/*
 * Owns a mesh_verifier_t. libmesh forbids freeing it while a call on it runs: every call
 * counts itself in `inflight` before it reads `closed`, and close() sets `closed` before it
 * waits for `inflight` to reach zero (both sequentially consistent, so a call either sees
 * `closed` or is waited for).
 */
typedef struct {
    PyObject ob_base; /* PyObject_HEAD */
    mesh_verifier_t *v;
    atomic_long inflight;
    atomic_bool closed;
    bool has_trust_bundle;
} CoreObject;

static PyTypeObject Core_Type;

static mesh_verifier_t *core_acquire(CoreObject *self)
{
    atomic_fetch_add(&self->inflight, 1);
    if (atomic_load(&self->closed)) {
        atomic_fetch_sub(&self->inflight, 1);
        PyErr_SetString(PyExc_RuntimeError, "mesh.Verifier is closed");
        return NULL;
    }
    return self->v;
}

static void core_release(CoreObject *self)
{
    atomic_fetch_sub(&self->inflight, 1);
}

static PyObject *Core_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *addr;
    int bundle;
    if (!PyArg_ParseTuple(args, "Op:Core", &addr, &bundle)) {
        return NULL;
    }
    void *p = PyLong_AsVoidPtr(addr);
    if (p == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "Core: the verifier address is NULL");
        }
        return NULL;
    }
    CoreObject *self = (CoreObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->v = p;
    atomic_init(&self->inflight, 0);
    atomic_init(&self->closed, false);
    self->has_trust_bundle = bundle != 0;
    return (PyObject *)self;
}

static void core_close(CoreObject *self)
{
    if (atomic_exchange(&self->closed, true)) {
        return;
    }
    mesh_verifier_t *v = self->v;
    Py_BEGIN_ALLOW_THREADS;
    while (atomic_load(&self->inflight) > 0) { /* calls that began before `closed` was set */
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    mesh_verifier_free(v); /* joins the background thread: never with the GIL held */
    Py_END_ALLOW_THREADS;
    self->v = NULL;
}

static void Core_dealloc(CoreObject *self)
{
    core_close(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Core_close(CoreObject *self, PyObject *unused)
{
    core_close(self);
    Py_RETURN_NONE;
}

/* For the ctypes calls (stat, refresh_keys, ...): the address, counted as a call in flight
 * until release(). */
static PyObject *Core_acquire(CoreObject *self, PyObject *unused)
{
    mesh_verifier_t *v = core_acquire(self);
    return v ? PyLong_FromVoidPtr(v) : NULL;
}

static PyObject *Core_release(CoreObject *self, PyObject *unused)
{
    core_release(self);
    Py_RETURN_NONE;
}

static PyObject *Core_closed(CoreObject *self, void *c)
{
    return PyBool_FromLong(atomic_load(&self->closed));
}

static PyObject *s_peer_cert_pem, *s_peer_cert_der, *s_required_scope, *s_authorization;

/* verify(authorization, peer_cert_pem=None, peer_cert_der=None, required_scope=None) */
static PyObject *Core_verify(CoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    PyObject *a[4] = {NULL, NULL, NULL, NULL};
    PyObject *names[4] = {s_authorization, s_peer_cert_pem, s_peer_cert_der, s_required_scope};
    if (nargs > 4) {
        PyErr_Format(PyExc_TypeError, "verify() takes at most 4 arguments (%zd given)", nargs);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        a[i] = args[i];
    }
    Py_ssize_t nk = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nk; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int j = 0;
        while (j < 4 && key != names[j]) { /* interned: the usual case */
            j++;
        }
        if (j == 4) {
            for (j = 0; j < 4 && PyUnicode_Compare(key, names[j]) != 0; j++) {
            }
        }
        if (j == 4) {
            PyErr_Format(PyExc_TypeError, "verify() got an unexpected keyword argument %R", key);
            return NULL;
        }
        if (a[j] != NULL) {
            PyErr_Format(PyExc_TypeError, "verify() got multiple values for argument %R", key);
            return NULL;
        }
        a[j] = args[nargs + k];
    }
    PyObject *pem = a[1] == Py_None ? NULL : a[1];
    PyObject *der = a[2] == Py_None ? NULL : a[2];
    if (pem != NULL && der != NULL) {
        PyErr_SetString(PyExc_ValueError, "verify: give peer_cert_pem or peer_cert_der, not both");
        return NULL;
    }
    const char *auth, *scope;
    if (!arg_str(a[0], "authorization", true, &auth)) {
        return NULL;
    }
    if (a[3] != NULL && PyObject_IsTrue(a[3]) != 1) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        scope = NULL; /* "" or None: no scope required, as the ctypes path */
    } else if (!arg_str(a[3], "required_scope", true, &scope)) {
        return NULL;
    }

    PyObject *hold = NULL; /* the DER made from a PEM, or the PEM as bytes */
    bool use_pem = false;
    if (pem != NULL) {
        if (!self->has_trust_bundle) {
            if (pem_leaf_der == NULL) {
                PyErr_SetString(PyExc_RuntimeError, "mesh._fast: setup() not called");
                return NULL;
            }
            der = hold = PyObject_CallOneArg(pem_leaf_der, pem);
            if (der == NULL) {
                return NULL;
            }
        } else {
            use_pem = true;
            if (PyUnicode_Check(pem)) {
                hold = PyUnicode_AsUTF8String(pem);
            } else if (PyBytes_Check(pem)) {
                hold = Py_NewRef(pem);
            } else {
                PyErr_Format(PyExc_TypeError, "peer_cert_pem: expected str or bytes, got %s",
                             Py_TYPE(pem)->tp_name);
                return NULL;
            }
            if (hold == NULL) {
                return NULL;
            }
        }
    }
    const uint8_t *cert = NULL;
    size_t cert_len = 0;
    PyObject *c = use_pem ? hold : der;
    if (c != NULL) {
        if (!PyBytes_Check(c)) {
            PyErr_Format(PyExc_TypeError, "peer_cert_der: expected bytes, got %s",
                         Py_TYPE(c)->tp_name);
            Py_XDECREF(hold);
            return NULL;
        }
        cert = (const uint8_t *)PyBytes_AS_STRING(c);
        cert_len = (size_t)PyBytes_GET_SIZE(c);
    }

    mesh_verifier_t *v = core_acquire(self);
    if (v == NULL) {
        Py_XDECREF(hold);
        return NULL;
    }
    mesh_identity_t *id = NULL;
    mesh_err_t rc;
    const char *detail = NULL;
    /* The str and bytes objects stay alive: this call holds references to its arguments. */
    Py_BEGIN_ALLOW_THREADS;
    if (use_pem) {
        rc = mesh_verify_pem(v, auth, (const char *)cert, cert_len, scope, &id);
    } else {
        rc = mesh_verify(v, auth, cert, cert_len, scope, &id);
    }
    if (rc != MESH_OK) {
        detail = mesh_err_detail(); /* thread-local: valid until this thread's next call */
    }
    Py_END_ALLOW_THREADS;
    core_release(self);
    Py_XDECREF(hold);
    if (rc != MESH_OK) {
        return raise_mesh(rc, detail, "");
    }
    IdentityObject *o = PyObject_New(IdentityObject, &Identity_Type);
    if (o == NULL) {
        mesh_identity_free(id);
        return NULL;
    }
    o->id = id;
    o->weakrefs = NULL;
    return (PyObject *)o;
}

static PyMethodDef Core_methods[] = {
    {"verify", (PyCFunction)(void (*)(void))Core_verify, METH_FASTCALL | METH_KEYWORDS,
     "verify(authorization, peer_cert_pem=None, peer_cert_der=None, required_scope=None)\n"
     "--\n\nmesh_verify without the GIL; an Identity, or MeshError."},
    {"acquire", (PyCFunction)Core_acquire, METH_NOARGS,
     "The verifier's address, counted as a call in flight until release()."},
    {"release", (PyCFunction)Core_release, METH_NOARGS, "Ends a call begun by acquire()."},
    {"close", (PyCFunction)Core_close, METH_NOARGS,
     "Waits for the calls in flight, then frees the verifier (idempotent)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Core_getset[] = {
    {"closed", (getter)Core_closed, NULL, "True once close() began.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Core_Type = {
    /* PyVarObject_HEAD_INIT ends with a comma, which clang-format does not know */
    /* clang-format off */
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mesh._fast.Core",
    /* clang-format on */
    .tp_basicsize = sizeof(CoreObject),
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Core(address, has_trust_bundle): owns a mesh_verifier_t made by the ctypes "
              "code and frees it on close().",
    .tp_methods = Core_methods,
    .tp_getset = Core_getset,
    .tp_new = Core_new,
};

/* ---- module -------------------------------------------------------------------------- */

static PyObject *fast_setup(PyObject *mod, PyObject *args)
{
    PyObject *err, *leaf;
    if (!PyArg_ParseTuple(args, "OO:setup", &err, &leaf)) {
        return NULL;
    }
    Py_XSETREF(mesh_error_cls, Py_NewRef(err));
    Py_XSETREF(pem_leaf_der, Py_NewRef(leaf));
    Py_RETURN_NONE;
}

/* The address this module calls for mesh_verify: equal to ctypes' when both use one
 * libmesh.so. */
static PyObject *fast_mesh_verify_address(PyObject *mod, PyObject *unused)
{
    return PyLong_FromVoidPtr((void *)(uintptr_t)&mesh_verify);
}

static PyMethodDef fast_methods[] = {
    {"setup", fast_setup, METH_VARARGS, "setup(MeshError, pem_leaf_der)"},
    {"mesh_verify_address", fast_mesh_verify_address, METH_NOARGS,
     "The address of mesh_verify this module links."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fast_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "mesh._fast",
    .m_doc = "The compiled verification path of mesh.Verifier.",
    .m_size = -1,
    .m_methods = fast_methods,
};

PyMODINIT_FUNC PyInit__fast(void)
{
    if (PyType_Ready(&Identity_Type) < 0 || PyType_Ready(&Core_Type) < 0) {
        return NULL;
    }
    s_authorization = PyUnicode_InternFromString("authorization");
    s_peer_cert_pem = PyUnicode_InternFromString("peer_cert_pem");
    s_peer_cert_der = PyUnicode_InternFromString("peer_cert_der");
    s_required_scope = PyUnicode_InternFromString("required_scope");
    if (!s_authorization || !s_peer_cert_pem || !s_peer_cert_der || !s_required_scope) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&fast_module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Identity", (PyObject *)&Identity_Type) < 0 ||
        PyModule_AddObjectRef(m, "Core", (PyObject *)&Core_Type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
