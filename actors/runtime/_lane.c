/* The mailbox's two hot paths in C: a plain tell below the mark, and a run of
 * plain messages handed to their handlers.
 *
 * ``Mailbox`` (mailbox.py) subclasses ``Lane``. Everything else a mailbox does
 * (coalescing, the control lane, stamps, overflow, pressure, counters) stays in
 * Python; the fields both sides touch live here and are read and written from
 * Python as ordinary attributes. The semantics are exactly those of the Python
 * code this replaced (see ``Mailbox.offer`` and ``Mailbox.process``):
 *
 * - ``offer(msg)``: a message whose type is in the plain-kinds set, while the
 *   queue is shorter than ``_mark``, is appended bare; if that wakes the mailbox,
 *   every eighth wake-up keeps its time in ``_woke_at`` and ``on_ready`` is
 *   called. Anything else goes to ``self._offer(msg)``.
 * - ``_drain(handlers, target, ctx, limit)``: while the control lane is empty,
 *   hands up to ``limit`` queued messages, in order, to
 *   ``handlers[type(msg)](target, ctx, msg)``. It stops at the first message
 *   whose type has no entry (a stamped or keyed item, a cursor, a fallback
 *   message), putting it back at the head for Python to handle, and after a
 *   handler that returns something other than None (kept in ``_halted``).
 *   Returns how many it handled; when a handler raises, ``_drained`` holds the
 *   count, the failed message included.
 *
 * Nothing here allocates per message.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

typedef struct {
    PyObject_HEAD
    PyObject *queue;    /* _queue: the ordinary lane, a collections.deque */
    PyObject *control;  /* _control: the control lane, a collections.deque */
    PyObject *on_ready; /* on_ready: called when an offer wakes the mailbox */
    PyObject *woke_at;  /* _woke_at: a float, the wake-up message's enqueue time or 0.0 */
    PyObject *halted;   /* _halted: what the last handler of a drain returned, or NULL */
    Py_ssize_t mark;    /* _mark: offer's fast path runs while the depth is below it */
    Py_ssize_t drained; /* _drained: messages handled by the last drain */
    int wakes;          /* _wakes: wake-ups until the next one is timed */
    char asleep;        /* _asleep: empty, and nobody is scheduled to drain it */
} Lane;

/* Set once by ``bind``. */
static PyObject *plain_kinds;    /* set of types that take the fast path */
static PyObject *accepted;       /* Delivery.ACCEPTED */
static PyObject *perf_clock;         /* time.perf_counter */
static PyTypeObject *deque_type; /* collections.deque */
static PyObject *append_descr, *appendleft_descr, *popleft_descr;
static PyCFunction append_fn, appendleft_fn, popleft_fn; /* their C functions, when plain */
static PyObject *slow_offer_name; /* "_offer" */

static PyCFunction
plain_function(PyObject *descr, int flags)
{
    if (Py_IS_TYPE(descr, &PyMethodDescr_Type)) {
        PyMethodDef *def = ((PyMethodDescrObject *)descr)->d_method;
        if ((def->ml_flags & (METH_VARARGS | METH_KEYWORDS | METH_FASTCALL | METH_NOARGS |
                              METH_O)) == flags) {
            return def->ml_meth;
        }
    }
    return NULL;
}

static inline PyObject *
call_o(PyCFunction fn, PyObject *descr, PyObject *self, PyObject *arg)
{
    if (fn != NULL) {
        return fn(self, arg);
    }
    PyObject *args[2] = {self, arg};
    return PyObject_Vectorcall(descr, args, 2, NULL);
}

static inline PyObject *
popleft(PyObject *queue)
{
    if (popleft_fn != NULL) {
        return popleft_fn(queue, NULL);
    }
    return PyObject_Vectorcall(popleft_descr, &queue, 1, NULL);
}

static PyObject *
lane_offer(Lane *self, PyObject *msg)
{
    PyObject *queue = self->queue;
    if (plain_kinds != NULL && queue != NULL && Py_IS_TYPE(queue, deque_type)) {
        int plain = PySet_Contains(plain_kinds, (PyObject *)Py_TYPE(msg));
        if (plain < 0) {
            return NULL;
        }
        if (plain && Py_SIZE(queue) < self->mark) { /* a closed mailbox's mark is -1 */
            PyObject *done = call_o(append_fn, append_descr, queue, msg);
            if (done == NULL) {
                return NULL;
            }
            Py_DECREF(done);
            if (self->asleep) { /* it wakes the mailbox */
                self->asleep = 0;
                if (self->wakes) {
                    self->wakes -= 1;
                }
                else { /* every eighth wake-up message: its enqueue time is kept */
                    self->wakes = 7;
                    PyObject *now = PyObject_CallNoArgs(perf_clock);
                    if (now == NULL) {
                        return NULL;
                    }
                    Py_XSETREF(self->woke_at, now);
                }
                if (self->on_ready == NULL) {
                    PyErr_SetString(PyExc_AttributeError, "mailbox has no on_ready");
                    return NULL;
                }
                PyObject *ready = PyObject_CallNoArgs(self->on_ready);
                if (ready == NULL) {
                    return NULL;
                }
                Py_DECREF(ready);
            }
            return Py_NewRef(accepted);
        }
    }
    return PyObject_CallMethodOneArg((PyObject *)self, slow_offer_name, msg);
}

static PyObject *
lane_drain(Lane *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "_drain takes 4 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *handlers = args[0], *target = args[1], *ctx = args[2];
    Py_ssize_t limit = PyLong_AsSsize_t(args[3]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *queue = self->queue, *control = self->control;
    self->drained = 0;
    Py_CLEAR(self->halted);
    if (!PyDict_CheckExact(handlers) || queue == NULL || control == NULL ||
        !Py_IS_TYPE(queue, deque_type) || !Py_IS_TYPE(control, deque_type)) {
        return PyLong_FromSsize_t(0); /* Python handles it all */
    }
    /* the lanes are held while handlers run: one may replace the attributes */
    Py_INCREF(queue);
    Py_INCREF(control);
    PyTypeObject *last_kind = NULL;
    PyObject *handler = NULL; /* borrowed from handlers, kept alive by the strong ref below */
    PyObject *held = NULL;
    Py_ssize_t handled = 0;
    int failed = 0;
    while (handled < limit && Py_SIZE(control) == 0 && Py_SIZE(queue) != 0) {
        PyObject *msg = popleft(queue);
        if (msg == NULL) {
            failed = 1;
            break;
        }
        PyTypeObject *kind = Py_TYPE(msg);
        if (kind != last_kind) {
            PyObject *found = PyDict_GetItemWithError(handlers, (PyObject *)kind);
            if (found == NULL) { /* not a plain handled message: back to the head */
                PyObject *back = NULL;
                if (!PyErr_Occurred()) {
                    back = call_o(appendleft_fn, appendleft_descr, queue, msg);
                }
                Py_DECREF(msg);
                if (back == NULL) {
                    failed = 1;
                }
                Py_XDECREF(back);
                break;
            }
            Py_INCREF(found);
            Py_XSETREF(held, found);
            handler = found;
            last_kind = kind;
        }
        handled += 1;
        PyObject *call[3] = {target, ctx, msg};
        PyObject *result = PyObject_Vectorcall(handler, call, 3, NULL);
        Py_DECREF(msg);
        if (result == NULL) {
            failed = 1;
            break;
        }
        if (result != Py_None) {
            Py_XSETREF(self->halted, result); /* a nested drain may have set one */
            break;
        }
        Py_DECREF(result);
    }
    Py_XDECREF(held);
    Py_DECREF(queue);
    Py_DECREF(control);
    self->drained = handled;
    if (failed) {
        return NULL;
    }
    return PyLong_FromSsize_t(handled);
}

static int
lane_traverse(Lane *self, visitproc visit, void *arg)
{
    /* Lane is a static type: a subclass's own traverse visits the heap type */
    Py_VISIT(self->queue);
    Py_VISIT(self->control);
    Py_VISIT(self->on_ready);
    Py_VISIT(self->woke_at);
    Py_VISIT(self->halted);
    return 0;
}

static int
lane_clear(Lane *self)
{
    Py_CLEAR(self->queue);
    Py_CLEAR(self->control);
    Py_CLEAR(self->on_ready);
    Py_CLEAR(self->woke_at);
    Py_CLEAR(self->halted);
    return 0;
}

static void
lane_dealloc(Lane *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    lane_clear(self);
    tp->tp_free((PyObject *)self);
}

static PyMethodDef lane_methods[] = {
    {"offer", (PyCFunction)lane_offer, METH_O,
     "Enqueue without blocking: accepted, coalesced, or rejected by the overflow policy."},
    {"_drain", (PyCFunction)(void (*)(void))lane_drain, METH_FASTCALL,
     "Hand up to ``limit`` plain queued messages to their handlers; how many it handled."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef lane_members[] = {
    {"_queue", T_OBJECT_EX, offsetof(Lane, queue), 0, "the ordinary lane"},
    {"_control", T_OBJECT_EX, offsetof(Lane, control), 0, "the control lane"},
    {"on_ready", T_OBJECT_EX, offsetof(Lane, on_ready), 0, "called when an offer wakes it"},
    {"_woke_at", T_OBJECT_EX, offsetof(Lane, woke_at), 0, "the wake-up message's time"},
    {"_halted", T_OBJECT, offsetof(Lane, halted), 0, "a drain's non-None handler result"},
    {"_mark", T_PYSSIZET, offsetof(Lane, mark), 0, "the depth below which offer appends"},
    {"_drained", T_PYSSIZET, offsetof(Lane, drained), READONLY, "the last drain's count"},
    {"_wakes", T_INT, offsetof(Lane, wakes), 0, "wake-ups until the next one is timed"},
    {"_asleep", T_BOOL, offsetof(Lane, asleep), 0, "empty, and nobody will drain it"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject LaneType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aiway.actors.runtime._lane.Lane",
    .tp_doc = "The hot paths of a mailbox (subclassed by Mailbox).",
    .tp_basicsize = sizeof(Lane),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)lane_dealloc,
    .tp_traverse = (traverseproc)lane_traverse,
    .tp_clear = (inquiry)lane_clear,
    .tp_methods = lane_methods,
    .tp_members = lane_members,
};

static PyObject *
lane_bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PySet_CheckExact(args[0]) || !PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "bind(plain_kinds: set, accepted, clock)");
        return NULL;
    }
    Py_XSETREF(plain_kinds, Py_NewRef(args[0]));
    Py_XSETREF(accepted, Py_NewRef(args[1]));
    Py_XSETREF(perf_clock, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"bind", (PyCFunction)(void (*)(void))lane_bind, METH_FASTCALL,
     "bind(plain_kinds, accepted, clock): what offer's fast path reads."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef lane_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "aiway.actors.runtime._lane",
    .m_doc = "The mailbox's hot paths in C.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__lane(void)
{
    PyObject *collections = PyImport_ImportModule("collections");
    if (collections == NULL) {
        return NULL;
    }
    deque_type = (PyTypeObject *)PyObject_GetAttrString(collections, "deque");
    Py_DECREF(collections);
    if (deque_type == NULL) {
        return NULL;
    }
    append_descr = PyObject_GetAttrString((PyObject *)deque_type, "append");
    appendleft_descr = PyObject_GetAttrString((PyObject *)deque_type, "appendleft");
    popleft_descr = PyObject_GetAttrString((PyObject *)deque_type, "popleft");
    slow_offer_name = PyUnicode_InternFromString("_offer");
    if (append_descr == NULL || appendleft_descr == NULL || popleft_descr == NULL ||
        slow_offer_name == NULL) {
        return NULL;
    }
    append_fn = plain_function(append_descr, METH_O);
    appendleft_fn = plain_function(appendleft_descr, METH_O);
    popleft_fn = plain_function(popleft_descr, METH_NOARGS);
    if (PyType_Ready(&LaneType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&lane_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Lane", (PyObject *)&LaneType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
