"""Records: tuples with named fields, as `typing.NamedTuple` makes them, at a plain class's cost.

`typing.NamedTuple` builds each class through `collections.namedtuple`, which writes the source
of the class's `__new__` and compiles it: about 0.8 million instructions a class, and the
daemon defined twenty-two of them before READY=1. A `Record` is declared the same way (its
annotated class attributes are its fields, in order; a value is a default, and the fields with
one come last) and behaves the same wherever this package relies on it: a tuple (unpacking,
indexing, slicing, equality and hashing with any tuple of the same values, pickling), fields
read by name in C as namedtuple's are, keywords and defaults when building one, `_fields`,
`_replace`, `_asdict` and namedtuple's repr(). Type checkers are shown `typing.NamedTuple`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    from collections import _tuplegetter  # namedtuple's field: reads the tuple's item in C

    class _RecordType(type):
        """Turns a record's annotations into read-only fields, and its values into defaults."""

        def __new__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
            record = super().__new__(cls, name, bases, {**namespace, "__slots__": ()})
            fields = tuple(namespace.get("__annotations__", ()))
            defaults = {field: namespace[field] for field in fields if field in namespace}
            if tuple(defaults) != fields[len(fields) - len(defaults) :]:
                raise TypeError(f"{name}: a field without a default follows one with a default")
            for index, field in enumerate(fields):
                setattr(record, field, _tuplegetter(index, f"{name}[{index}]"))
            record._fields = fields
            record._field_defaults = defaults
            return record

    class Record(tuple, metaclass=_RecordType):
        """The base of every record (see the module's docstring)."""

        def __new__(cls, /, *values: Any, **named: Any) -> Record:
            if named or len(values) != len(cls._fields):
                values = cls._complete(values, named)
            return tuple.__new__(cls, values)

        @classmethod
        def _complete(cls, values: tuple[Any, ...], named: dict[str, Any]) -> tuple[Any, ...]:
            """The fields' values, in order, of a call with keywords or defaults."""
            given = dict(zip(cls._fields, values))
            unknown = [name for name in named if name in given or name not in cls._fields]
            if len(values) > len(cls._fields) or unknown:
                raise TypeError(f"{cls.__name__}{cls._fields} got {values} and {named}")
            given = {**cls._field_defaults, **given, **named}
            missing = [field for field in cls._fields if field not in given]
            if missing:
                raise TypeError(f"{cls.__name__} is missing {', '.join(missing)}")
            return tuple(given[field] for field in cls._fields)

        def __getnewargs__(self) -> tuple[Any, ...]:
            return tuple(self)  # what pickle and copy hand back to __new__

        def __repr__(self) -> str:
            shown = ", ".join(f"{field}={value!r}" for field, value in zip(self._fields, self))
            return f"{type(self).__name__}({shown})"

        def _replace(self, **changes: Any) -> Record:
            return type(self)(**{**self._asdict(), **changes})

        def _asdict(self) -> dict[str, Any]:
            return dict(zip(self._fields, self))
