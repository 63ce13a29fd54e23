"""DXF drawings read from their ENTITIES section alone, without building ezdxf's document.

`ezdxf.read` builds the whole document (header, classes, tables, blocks, objects) and that alone costs about an
`ezdxf.readfile`. For a drawing whose model space holds only LINE, POINT, CIRCLE, ARC, LWPOLYLINE, SPLINE,
ELLIPSE, POLYLINE (with its VERTEX/SEQEND sequence) and 3DSOLID entities (no block insert, nothing in paper
space) the parse needs nothing but those entities, `$ACADVER` and `$INSUNITS`: the entities are loaded from
the tags ezdxf's tag loader gives, with ezdxf's entity classes and sub-entity linker (the same attribute values
as `ezdxf.read` gives them), without a document, and then measured and described by the same code as the
document's entities.

A file takes this path only when the group-code scan found it sound, with one HEADER and one ENTITIES section,
DXF R12 or R2000 and later (not R13/R14), and when nothing in its entities is what `doc.audit()` would fix or
report on those kinds (an undefined linetype is told from the LTYPE entries the scan found in the TABLES
section; application data, extension dictionaries and pointers to objects decline; XDATA is neither audited
nor measured and does not). The kinds with an audit of their own (SPLINE, ELLIPSE, POLYLINE) have it run with
a probe auditor: it makes the same silent changes as `doc.audit()` (an ellipse's axis ratio clamped) and
anything it would report or remove declines. `read_direct` returns None for every other file, which then goes
through `ezdxf.read`. What this path cannot see is what the audit would repair in the other sections (tables,
blocks, objects, layouts): such a repair shows in the `ezdxf.read` path's summary as a `recover: N fixes`
warning and not in this one's, and a file whose other sections `ezdxf.read` refuses (it then goes to recover)
is answered from its entities; the geometry, counts, layers and units are the same.

The section's tags are made by `dxf_tags.compiled_groups`: the very tags ezdxf's `ascii_tags_loader` +
`tag_compiler` + `group_tags` give, in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ezdxf.lldxf import const, validator  # this module is imported when a DXF is parsed: ezdxf is needed then
from ezdxf.math import NULLVEC

from .dxf_tags import compiled_groups

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the scan is made by dxf.py, which calls this module: no import at run time
    from .dxf import DxfScan

DIRECT_KINDS = frozenset({"LINE", "POINT", "CIRCLE", "ARC", "LWPOLYLINE", "SPLINE", "ELLIPSE", "POLYLINE", "3DSOLID"})
# kinds whose own `audit` (beyond DXFGraphic's checks) can report, remove or silently change something: it is run
# with `_ProbeAuditor` (same silent changes as `doc.audit()` makes, and anything reported declines the file)
_OWN_AUDIT_KINDS = frozenset({"SPLINE", "ELLIPSE", "POLYLINE"})

# $ACADVER -> `doc.dxfversion` after `ezdxf.read`. R13/R14 files are left to ezdxf: it upgrades them to R2000
# and its audit then repairs their layouts (an orphaned paper space block record in a shared sample)
_DXF_VERSIONS = {
    "AC1009": "AC1009", "AC1015": "AC1015", "AC1018": "AC1018",
    "AC1021": "AC1021", "AC1024": "AC1024", "AC1027": "AC1027", "AC1032": "AC1032",
}
_ACADVER_RE = re.compile(rb"\n[ \t]*9[ \t]*\r?\n\$ACADVER\r?\n[ \t]*1[ \t]*\r?\n(AC\d{4})\r?\n")
_INSUNITS_RE = re.compile(rb"\n[ \t]*9[ \t]*\r?\n\$INSUNITS\r?\n[ \t]*70[ \t]*\r?\n[ \t]*(-?\d{1,6})[ \t]*\r?\n")
# group codes that point at other objects (reactors, extension dictionary, material, plot style, visual
# style...): the audit checks their targets, which only the document knows. The owner (330) is not one: the
# model space layout sets it when `ezdxf.read` loads the entity.
_POINTER_CODES = frozenset({102, 340, 347, 348, 350, 360, 390})


@dataclass(frozen=True)
class DirectDrawing:
    entities: list
    dxfversion: str
    units_code: int


def read_direct(data: bytes, scan: DxfScan, *, encoding: str) -> DirectDrawing | None:
    """The model-space entities, DXF version and `$INSUNITS` of a drawing that needs no ezdxf document, or
    None when the file must be read by `ezdxf.read`. `encoding` is the file's text encoding (`dxf._dxf_encoding`)."""
    found = direct_or_reason(data, scan, encoding=encoding)
    return found if isinstance(found, DirectDrawing) else None


def direct_or_reason(data: bytes, scan: DxfScan, *, encoding: str) -> DirectDrawing | str:
    """`read_direct`, or why the file is left to `ezdxf.read` (a short phrase, for the bench's table)."""
    if not scan.sound:
        return "structure not sound (recover)"
    if scan.entity_count == 0:
        return "no model space entity"
    if not set(scan.kinds) <= DIRECT_KINDS:
        return "kinds " + ", ".join(sorted(set(scan.kinds) - DIRECT_KINDS))
    # paper space entities (sub-entities are VERTEX/SEQEND of the polylines: the linker below takes them)
    if scan.entities_in_section - scan.sub_entities_in_section != scan.entity_count:
        return "paper space entities"
    headers, entity_sections = scan.spans.get("HEADER", []), scan.spans.get("ENTITIES", [])
    if len(headers) != 1 or len(entity_sections) != 1:
        return "not one HEADER and one ENTITIES section"
    header = b"\n" + data[headers[0][0]:headers[0][1]]
    versions = _ACADVER_RE.findall(header)
    if len(versions) != 1 or header.count(b"$ACADVER") != 1:
        return "no single $ACADVER"
    dxfversion = _DXF_VERSIONS.get(versions[0].decode("ascii"))
    if dxfversion is None:
        return f"version {versions[0].decode('ascii')} (ezdxf upgrades it and audits the layouts)"
    units = _INSUNITS_RE.findall(header)
    if len(units) != header.count(b"$INSUNITS") or len(units) > 1:
        return "$INSUNITS not read"
    units_code = int(units[0]) if units else 0
    start, end = entity_sections[0]
    # with its ENDSEC: the tag compiler reads one tag ahead for the coordinates of the last entity's last point
    text = (data[start:end] + b"0\nENDSEC\n").decode(encoding, "surrogateescape")
    entities = _load_entities(text, scan.linetypes, scan.modelspace_record)
    if isinstance(entities, str):
        return entities
    if len(entities) != scan.entity_count:
        return "entity count differs from the scan's"
    return DirectDrawing(entities=entities, dxfversion=dxfversion, units_code=units_code)


def _load_entities(text: str, linetypes: set[str], modelspace_record: str | None) -> list | str:
    """The entities of the ENTITIES section `text`, or why they are left to `ezdxf.read`."""
    from ezdxf.entities import factory
    from ezdxf.entities.subentity import entity_linker
    from ezdxf.lldxf.const import DXFError
    from ezdxf.lldxf.extendedtags import ExtendedTags

    entities = []
    linked = entity_linker()  # VERTEX and SEQEND into their POLYLINE, as `ezdxf.read` links them
    try:
        # universal newlines and the tag compiler, as `ezdxf.read` loads the same lines
        groups = compiled_groups(text)
        if not groups:
            return "tags ezdxf's compiler refuses"
        head = groups[0]  # (0, SECTION), (2, ENTITIES)
        if len(head) != 2 or head[0] != (0, "SECTION") or head[1] != (2, "ENTITIES"):
            return "section head"
        for tags in groups[1:]:
            if tags[0] == (0, "ENDSEC"):
                break
            if not _POINTER_CODES.isdisjoint([tag.code for tag in tags]):
                return "pointers to objects"
            xtags = ExtendedTags(tags)
            # XDATA is loaded into the entity as by `ezdxf.read` and neither audited nor measured
            if xtags.dxftype() not in _LOADED_KINDS or xtags.appdata or xtags.embedded_objects:
                return "application data or embedded objects" if xtags.dxftype() in _LOADED_KINDS else "kinds"
            entity = factory.load(xtags)
            if not _audit_clean(entity, linetypes):
                return "the audit would fix an entity"
            if linked(entity):  # a VERTEX or SEQEND, now in its polyline (owner set to the polyline's handle)
                continue
            # `ezdxf.read` puts an entity in the layout its owner handle names, before the paper space flag
            if entity.dxftype() not in DIRECT_KINDS or (entity.dxf.hasattr("owner")
                                                        and entity.dxf.owner != modelspace_record):
                return "an entity owned by another layout" if entity.dxftype() in DIRECT_KINDS else "sub-entities"
            entities.append(entity)
        for entity in entities:
            if entity.dxftype() in _OWN_AUDIT_KINDS and not _own_audit_clean(entity):
                return f"the audit would fix a {entity.dxftype()}"
    except (DXFError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        return f"ezdxf refuses an entity ({type(exc).__name__})"
    return entities


_LOADED_KINDS = DIRECT_KINDS | {"VERTEX", "SEQEND"}


class _ProbeAuditor:
    """Stands in for ezdxf's `Auditor` when an entity's own `audit` runs without a document: DXFGraphic's
    generic checks (owner, layer, linetype, colour, lineweight, extrusion, transparency) are `_audit_clean`'s and
    do nothing here; whatever the entity's audit reports or removes marks it. Any other auditor call raises
    AttributeError: the file is then left to `ezdxf.read`."""

    doc = None

    def __init__(self):
        self.reported = False

    def fixed_error(self, *args, **kwargs) -> None:
        self.reported = True

    def add_error(self, *args, **kwargs) -> None:
        self.reported = True

    def trash(self, *args, **kwargs) -> None:
        self.reported = True

    def _generic_check(self, entity) -> None:
        pass

    check_owner_exist = check_for_valid_layer_name = check_entity_linetype = _generic_check
    check_entity_color_index = check_entity_lineweight = check_extrusion_vector = check_transparency = _generic_check


def _own_audit_clean(entity) -> bool:
    """Run the entity's own audit as `doc.audit()` does (the same silent changes, e.g. an ellipse's axis ratio
    clamped); False when it would report or remove something, or when a POLYLINE has no SEQEND (the audit of
    the document adds one and reports it)."""
    if entity.dxftype() == "POLYLINE":
        if entity.seqend is None:
            return False
        for sub in [*entity.vertices, entity.seqend]:
            # the audit gives the sub-entities the polyline's layer: a different one would be a change here
            if sub.dxf.hasattr("layer") and sub.dxf.layer != entity.dxf.layer:
                return False
    auditor = _ProbeAuditor()
    entity.audit(auditor)
    return not auditor.reported


def _audit_clean(entity, linetypes: set[str]) -> bool:
    """False when `doc.audit()` would fix or report something on this entity (ezdxf's DXFGraphic.audit checks;
    `linetypes`: the LTYPE table's entries as the scan found them)."""
    dxf = entity.dxf
    if dxf.hasattr("layer") and not validator.is_valid_layer_name(dxf.layer):
        return False
    if dxf.hasattr("linetype"):
        linetype = validator.make_table_key(dxf.linetype)
        if linetype not in ("bylayer", "byblock") and linetype not in linetypes:
            return False
    if dxf.hasattr("color") and not 0 <= dxf.color <= 257:
        return False
    if dxf.hasattr("lineweight") and dxf.lineweight not in const.VALID_DXF_LINEWEIGHT_VALUES:
        return False
    if dxf.hasattr("extrusion") and NULLVEC.isclose(dxf.extrusion):
        return False
    if dxf.hasattr("transparency") and not validator.is_transparency(dxf.transparency):
        return False
    return True
