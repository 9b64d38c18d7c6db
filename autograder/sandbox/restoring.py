"""The warden's restore: put back what student code replaced, from the warden's own copy.

:func:`make_restorer` is called once, by :func:`autograder.sandbox.warden.make_warden`, with
the immutable copy of what the grader relies on (:func:`autograder.sandbox.snapshot.immutable_copy`)
and returns ``restore() -> list[str]``, a closure that holds the copy: nothing outside the warden
can read or change it. ``restore`` runs at every check's start and after every student call, so
the common case (nothing replaced) is decided at C speed: the copy is laid out as flat tuples
that ``map`` and ``operator.is_not`` compare in one pass.
"""

from __future__ import annotations

import builtins
from itertools import chain
from operator import is_not
from typing import Any


def make_restorer(modules: tuple, classes: tuple, objects: tuple) -> Any:
    """Build ``restore() -> list[str]`` over the remembered state.

    Parameters
    ----------
    modules, classes, objects : tuple
        As returned by :func:`autograder.sandbox.snapshot.immutable_copy`.

    Returns
    -------
    restore : callable
        Puts back every module attribute, class attribute, registry item and container
        content that differs from the copy (and removes module globals that shadow a builtin,
        class attributes that were added, a module's replaced ``__class__``); returns a label
        for each thing it put back.
    """
    # Everything the closures below use is bound here: they read no global variable.
    any_, map_, len_, list_, set_, tuple_ = any, map, len, list, set, tuple
    vars_, type_, getattr_, isinstance_ = vars, type, getattr, isinstance
    is_not_, chain_, dict_get = is_not, chain, dict.get
    obj_setattr, obj_delattr = object.__setattr__, object.__delattr__
    type_setattr, type_delattr = type.__setattr__, type.__delattr__
    type_error, attribute_error = TypeError, AttributeError
    missing = object()
    builtins_module = builtins
    builtin_names = frozenset(vars(builtins))

    modules_fast = tuple_(
        (m, label, items, keys, tuple_(k for k, _ in items), tuple_(v for _, v in items))
        for m, label, items, keys in modules
    )
    classes_fast = tuple_(
        (c, items, keys, tuple_(k for k, _ in items), tuple_(v for _, v in items))
        for c, items, keys in classes
    )
    objects_fast, containers = [], []
    for kind, obj, items in objects:
        if kind == "dict":
            objects_fast.append(
                (kind, obj, items, tuple_(k for k, _ in items), tuple_(v for _, v in items))
            )
        elif kind == "list":
            objects_fast.append((kind, obj, items, (), ()))
        else:
            plain = []
            for k, v in items:
                if isinstance_(v, tuple_) and len_(v) == 2 and v[0] in ("\x00dict", "\x00list"):
                    original = vars_(obj)[k]
                    ikeys = tuple_(a for a, _ in v[1]) if v[0] == "\x00dict" else ()
                    ivalues = tuple_(b for _, b in v[1]) if v[0] == "\x00dict" else ()
                    containers.append((obj, k, v[0][1:], original, v[1], ikeys, ivalues))
                    plain.append((k, original))  # the container object itself
                else:
                    plain.append((k, v))
            plain = tuple_(plain)
            objects_fast.append(
                (kind, obj, plain, tuple_(k for k, _ in plain), tuple_(v for _, v in plain))
            )
    objects_fast, containers = tuple_(objects_fast), tuple_(containers)

    # Flat tables for the C-speed "nothing changed" test.
    flat_dicts, flat_names, flat_values, flat_sized, flat_sizes = [], [], [], [], []
    for m, _label, _items, _keys, names, values in modules_fast:
        d = vars_(m)
        flat_dicts += [d] * len_(names)
        flat_names += names
        flat_values += values
        if m is not builtins_module:
            flat_sized.append(d)
            flat_sizes.append(len_(d))
    for kind, obj, items, names, values in objects_fast:
        if kind == "list":
            flat_sized.append(obj)
            flat_sizes.append(len_(items))
            continue
        d = obj if kind == "dict" else vars_(obj)
        flat_dicts += [d] * len_(names)
        flat_names += names
        flat_values += values
        flat_sized.append(d)
        flat_sizes.append(len_(d))
    list_objects = [obj for kind, obj, *_ in objects_fast if kind == "list"]
    container_lists = tuple_(
        [original for _o, _k, kind, original, *_ in containers if kind == "list"] + list_objects
    )
    container_items = tuple_(
        chain(
            *[items for _o, _k, kind, _orig, items, *_ in containers if kind == "list"],
            *[items for kind, _obj, items, *_ in objects_fast if kind == "list"],
        )
    )
    container_dicts, container_keys, container_values = [], [], []
    for _o, _k, kind, original, items, ikeys, ivalues in containers:
        if kind == "list":
            flat_sized.append(original)
            flat_sizes.append(len_(items))
        else:
            container_dicts += [original] * len_(ikeys)
            container_keys += ikeys
            container_values += ivalues
            flat_sized.append(original)
            flat_sizes.append(len_(items))
    flat_dicts, flat_names, flat_values = (
        tuple_(flat_dicts),
        tuple_(flat_names),
        tuple_(flat_values),
    )
    flat_sized, flat_sizes = tuple_(flat_sized), tuple_(flat_sizes)
    container_dicts, container_keys = tuple_(container_dicts), tuple_(container_keys)
    container_values = tuple_(container_values)
    module_types = tuple_((m, type_(m)) for m, *_ in modules)

    def unchanged():
        """True when no remembered module, registry or class entry was rebound (C speed)."""
        if any_(map_(is_not_, map_(dict_get, flat_dicts, flat_names), flat_values)):
            return False
        if tuple_(map_(len_, flat_sized)) != flat_sizes:
            return False
        if any_(map_(is_not_, chain_(*container_lists), container_items)):
            return False
        if any_(map_(is_not_, map_(dict_get, container_dicts, container_keys), container_values)):
            return False
        for cls, _items, keys, names, values in classes_fast:
            d = vars_(cls)
            if len_(d) != len_(keys) or any_(map_(is_not_, map_(d.get, names), values)):
                return False
        for module, kind in module_types:
            if type_(module) is not kind:
                return False
        return True

    def restore_module_types():
        changed = []
        for module, kind in module_types:
            if type_(module) is not kind:
                obj_setattr(module, "__class__", kind)
                changed.append(f"{module.__name__}.__class__")
        return changed

    def restore_modules(changed):
        for module, label, items, keys, names, values in modules_fast:
            d = vars_(module)
            # the common case (nothing replaced) is decided at C speed
            if any_(map_(is_not_, map_(d.get, names), values)):
                for k, v in items:
                    if d.get(k, missing) is not v:
                        d[k] = v
                        changed.append(f"{label}.{k}")
            if module is not builtins_module and len_(d) != len_(keys):
                # a new module global shadowing a builtin (``len``, ``isinstance``) changes
                # every function of the module
                for k in (d.keys() - keys) & builtin_names:
                    if not k.startswith("__"):
                        del d[k]
                        changed.append(f"{label}.{k}")

    def restore_classes(changed):
        for cls, items, keys, names, values in classes_fast:
            d = vars_(cls)
            if len_(d) == len_(keys) and not any_(map_(is_not_, map_(d.get, names), values)):
                continue
            for k, v in items:
                if d.get(k, missing) is not v:
                    try:
                        type_setattr(cls, k, v)
                    except (type_error, attribute_error):
                        continue
                    changed.append(f"{cls.__module__}.{cls.__qualname__}.{k}")
            for k in list_(d.keys() - keys):
                try:
                    type_delattr(cls, k)
                except (type_error, attribute_error):
                    continue
                changed.append(f"{cls.__module__}.{cls.__qualname__}.{k}")

    def restore_objects(changed):
        for kind, obj, items, names, values in objects_fast:
            if kind == "dict":
                if len_(obj) != len_(items) or any_(map_(is_not_, map_(obj.get, names), values)):
                    obj.clear()
                    obj.update(items)
                    changed.append("the grading registry")
            elif kind == "list":
                if len_(obj) != len_(items) or any_(map_(is_not_, obj, items)):
                    obj[:] = items
                    changed.append("the grading registry")
            else:
                d = vars_(obj)
                if len_(d) == len_(items) and not any_(map_(is_not_, map_(d.get, names), values)):
                    continue  # nothing rebound; containers are checked below
                label = f"the grading spec {getattr_(obj, 'name', '')}"
                for k, v in items:
                    if d.get(k, missing) is not v:
                        obj_setattr(obj, k, v)
                        changed.append(label)
                for k in list_(d.keys() - set_(names)):
                    obj_delattr(obj, k)
                    changed.append(label)

    def restore_containers(changed):
        for obj, k, kind, original, items, ikeys, ivalues in containers:
            cur = vars_(obj).get(k)
            if kind == "dict":
                ok = (
                    cur is original
                    and len_(cur) == len_(items)
                    and not any_(map_(is_not_, map_(cur.get, ikeys), ivalues))
                )
            else:
                ok = (
                    cur is original
                    and len_(cur) == len_(items)
                    and not any_(map_(is_not_, cur, items))
                )
            if not ok:
                # the original object, refilled: whoever holds it sees the restored items
                original.clear()
                if kind == "dict":
                    original.update(items)
                else:
                    original.extend(items)
                obj_setattr(obj, k, original)
                changed.append(f"the grading spec {getattr_(obj, 'name', '')}")

    def restore():
        if unchanged():
            return []
        changed = restore_module_types()
        restore_modules(changed)
        restore_classes(changed)
        restore_objects(changed)
        restore_containers(changed)
        return changed

    return restore
