"""One association under construction: members, products, validity and naming.

Behaviour follows jwst 3.0's DMS associations (member exptype decision, `_rate`/`_cal`
member names, product names, validity tests, level-2 nod/imprint/WFSS finalization).
"""

from __future__ import annotations

import copy
import re
from ast import literal_eval
from pathlib import PurePath

from .. import __version__
from . import exptypes as X
from .constraints import EMPTY, Group, lookup
from .finalize import FINALIZERS
from .members import Member, dash, level2_name, remove_suffix
from .rules import Rule

DEGRADED_OK = "No known degraded exposures in association."
DEGRADED_BAD = ("One or more members have an error associated with them.\n"
                "Details can be found in the member.exposerr attribute.")


def parse_acid(text: str):
    """'("o001", "observation")' -> ('o001', 'observation'); None when it is not a pair."""
    try:
        value = literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, tuple) and len(value) == 2:
        return str(value[0]), str(value[1])
    return None


class Association:
    """An association being built by one rule (see rules.Rule)."""

    def __init__(self, rule: Rule, registry: str, pool_name: str, global_constraint=None):
        self.rule, self.registry, self.pool_name = rule, registry, pool_name
        self.tree: Group = rule.build(self)
        if global_constraint is not None:
            self.tree.append(global_constraint())
        self.data = {"asn_type": "None", "asn_rule": f"{registry}_{rule.name}",
                     "version_id": None, "code_version": f"streamcal {__version__}",
                     "degraded_status": DEGRADED_OK, "program": "noprogram",
                     "constraints": "No constraints", "asn_id": "a3001", "asn_pool": pool_name}
        if rule.level == 3:
            self.data["target"] = "none"
        self.validity = {"has_science": False}
        if rule.level == 2:
            self.validity["allowed_candidates"] = False
        self.validity.update({name: False for name in rule.validity})
        self.started = False
        self.original_exptype = None
        self.sequence = 1

    # ---- identity -----------------------------------------------------------------------
    @property
    def acid(self) -> tuple[str, str]:
        """(candidate id, candidate type) from the candidate constraint, else discovered."""
        for leaf in self.tree.leaves():
            if getattr(leaf, "is_acid", False):
                pair = parse_acid(re.sub(r"\\", "", "-".join(leaf.found)))
                if pair is not None:
                    return pair
        return ("a3001", "discovered")

    @property
    def products(self) -> list:
        return self.data.setdefault("products", [])

    @property
    def current_product(self) -> dict:
        return self.products[-1]

    def members_of(self, exptype: str) -> list:
        if not self.products:
            return []
        return [m for m in self.current_product["members"] if m["exptype"] == exptype]

    def has_science(self) -> bool:
        return len(self.members_of("science")) >= 1

    def item_names(self) -> set:
        return {m.item["filename"] for p in self.products for m in p["members"]
                if m.item is not None}

    # ---- exposure type ---------------------------------------------------------------------
    def exposure_type(self, item, default="science") -> str:
        kind = self.rule.exptype
        result = X.base_exposure_type(item, default)
        if kind == "lv3":
            return result
        if kind == "lv3aux":
            return result if result == "target_acquisition" else "science"
        if result == "psf":                      # level 2 treats PSF exposures as science
            result = default
        self.original_exptype = result
        if kind == "lv2special":
            return "imprint" if (self.has_science() and result == "imprint") else default
        if kind == "lv2wfss" and result == "science" and item["exp_type"] in (
                "nis_image", "nrc_image", "mir_image"):
            return "direct_image"
        if kind == "lv2lrsnod" and result == "science" and self.tree["is_current_patt_num"].matched:
            return "background"
        return result

    def _is_kind(self, item, types) -> bool:
        if item.get("pntgtype") != "science" or item.get("exp_type") in X.ACQ_EXP_TYPES:
            return False
        return item.get("exp_type") in types

    def is_tso(self, item) -> bool:
        if item.get("pntgtype") != "science" or item.get("exp_type") in X.ACQ_EXP_TYPES:
            return False
        node = self.tree.find("is_tso")
        flag = getattr(node, "value", None) == "t"
        try:
            flag = flag or lookup(item, ["tsovisit"], EMPTY)[1] == "t"
        except KeyError:
            pass
        return flag or item.get("exp_type") in X.TSO_EXP_TYPES

    def is_coron(self, item) -> bool:
        if self.rule.coron_as_rate or not self._is_kind(item, X.CORON_EXP_TYPES):
            return False
        if item["exp_type"] != "nrc_coron" or item.get("subarray") != "full":
            return True
        blocked = {"maskbar": ("nrca1", "nrca2", "nrca3"), "maskrnd": ("nrca1", "nrca3", "nrca4")}
        return item.get("detector") not in blocked.get(item.get("pupil"), ())

    def uses_integrations(self, item) -> bool:
        return self.is_coron(item) or self._is_kind(item, ("nis_ami",)) or self.is_tso(item)

    # ---- adding ------------------------------------------------------------------------------
    def add(self, item):
        """(matched, requeues) — jwst Association.add semantics."""
        if item["filename"] in self.item_names():
            return True, []
        self.tree.preserve()
        matched, reprocess = self.tree.check(item)
        if not matched:
            self.tree.restore()
        for rq in reprocess:
            if rq.rules is None:
                rq.rules = [self.rule]
        if matched:
            if not self.started:
                self._start(item)
                self.started = True
            self._add(item)
        force = self.tree.find("force_match")
        if force is not None and force.value is not None:
            matched = force.value
        return matched, reprocess

    def _start(self, item):
        self.data["asn_type"] = self.rule.asn_type
        if self.rule.level == 2:
            self.data["target"] = item["targetid"]
            self.data["program"] = f"{item['program']:0>5s}"
            self.data["asn_id"] = self.acid[0]
            self.data["constraints"] = self.tree.describe()
            self.products.append({"name": "undefined", "members": []})
        else:
            self.products.append({"name": "undefined", "members": []})
            self._update3(item)

    def make_member(self, item) -> Member:
        exptype = self.exposure_type(item)
        ints = self.uses_integrations(item)
        if self.rule.level == 2:
            expname = level2_name(item["filename"], "rate", ints)
            return Member({"expname": expname, "exptype": exptype,
                           "exposerr": item.get("exposerr")}, item)
        if exptype == "background":
            suffix = "x1d"
        else:
            suffix = "cal" if item.get("exp_type") in X.LEVEL2B_EXP_TYPES else "rate"
        expname = level2_name(item["filename"], suffix, ints)
        return Member({"expname": expname, "exptype": exptype, "exposerr": item.get("exposerr"),
                       "asn_candidate": item.get("asn_candidate")}, item)

    def _add(self, item):
        member = self.make_member(item)
        members = self.current_product["members"]
        if any(m.same(member) for m in members):
            return
        if self.rule.level == 3:
            self._validate(member)
            members.append(member)
            self._update3(item)
        else:
            members.append(member)
            self._validate(member)
            self._update_degraded()
            self.current_product["name"] = self.product_name()

    def _update_degraded(self):
        if self.data["degraded_status"] != DEGRADED_OK:
            return
        for p in self.products:
            if any(m.get("exposerr") not in EMPTY for m in p["members"]):
                self.data["degraded_status"] = DEGRADED_BAD
                return

    def _update3(self, item):
        self._update_degraded()
        self.data["constraints"] = self.tree.describe()
        self.data["asn_id"] = self.acid[0]
        self.data["target"] = self.target_id()
        if self.data["program"] == "noprogram":
            self.data["program"] = f"{item['program']:0>5s}"
        self.current_product["name"] = self.product_name()

    # ---- validity ------------------------------------------------------------------------
    def _validate(self, member):
        for name, done in self.validity.items():
            if not done:
                self.validity[name] = VALIDITY[name](self, member)

    @property
    def is_valid(self) -> bool:
        return bool(self.products) and all(self.validity.values())

    # ---- naming --------------------------------------------------------------------------
    def _found(self, name) -> list:
        node = self.tree.find(name)
        return [] if node is None or not hasattr(node, "found") else list(node.found)

    def target_id(self) -> str:
        # the first "target" node that found a value (jwst get_all_attr skips empty sets)
        values = next((list(leaf.found) for leaf in self.tree.leaves()
                       if leaf.name == "target" and leaf.found), [])
        return f"t{'-'.join(str(v) for v in values):0>3s}"

    def opt_element(self) -> str:
        parts = []
        for name in ("opt_elem", "opt_elem2"):
            if self.tree.find(name) is None:
                continue
            value = "-".join(sorted(self._found(name), key=str.lower))
            if value not in EMPTY:
                parts.append(value)
        return "-".join(sorted(parts, key=str.lower)) or "clear"

    def slit_name(self) -> str:
        names = []
        for name in ("fxd_slit", "fxd_slit2"):
            if self.tree.find(name) is None:
                continue
            value = "-".join(sorted(self._found(name), key=str.lower))
            if value not in EMPTY and value not in names:
                names.append(value)
        return "-".join(sorted(names, key=str.lower))

    def subarray(self) -> str:
        if self.tree.find("subarray") is None:
            return ""
        value = "-".join(self._found("subarray"))
        return "" if value == "full" else value

    def product_name(self) -> str:
        return PRODUCT_NAMES[self.rule.product](self).lower()

    def _prefix(self) -> str:
        return f"jw{self.data['program']}-{self.acid[0]}"

    # ---- finalize ------------------------------------------------------------------------
    def finalize(self) -> list:
        """The associations this one becomes (none when invalid)."""
        return FINALIZERS[self.rule.finalize](self)

    def clone(self):
        return copy.deepcopy(self)


def _name_lv2(asn) -> str:
    science = asn.members_of("science")
    if not science:
        return "undefined"
    path = PurePath(science[0]["expname"])
    return remove_suffix(str(path.parent / path.stem))


def _name_dms(asn) -> str:
    return (f"{asn._prefix()}_{asn.target_id()}_{_instrument(asn)}_{asn.opt_element()}"
            f"{dash(asn.slit_name())}{dash(asn.subarray())}")


def _instrument(asn) -> str:
    return "-".join(asn._found("instrument"))



def _name_noopt(asn) -> str:
    return f"{asn._prefix()}_{asn.target_id()}_{_instrument(asn)}"


def _name_sources(asn) -> str:
    return (f"{asn._prefix()}_{{source_id}}_{_instrument(asn)}_{asn.opt_element()}"
            f"{dash(asn.slit_name())}{dash(asn.subarray())}")


def _name_nrsfs(asn) -> str:
    return (f"{asn._prefix()}_{asn.target_id()}-{{source_id}}_{_instrument(asn)}_"
            f"{asn.opt_element()}-{{slit_name}}{dash(asn.subarray())}")


def _name_coronimage(asn) -> str:
    return (f"{asn._prefix()}_{asn.target_id()}_{_instrument(asn)}_{asn.opt_element()}"
            f"{dash(asn.subarray())}-image3")


def _name_wfscmb(asn) -> str:
    act = asn.tree["act_id"].value
    return f"{_name_dms(asn)}-{asn.tree['detector'].value}_{{suffix}}-{act:0>2s}"


PRODUCT_NAMES = {"lv2": _name_lv2, "dms": _name_dms, "noopt": _name_noopt,
                 "sources": _name_sources, "nrsfs_sources": _name_nrsfs,
                 "coronimage": _name_coronimage, "wfscmb": _name_wfscmb, "wfss": _name_dms}


def _has_pair(asn, _member) -> bool:
    return len(asn.current_product["members"]) == 1


VALIDITY = {
    "has_science": lambda asn, m: m["exptype"] == "science",
    "has_psf": lambda asn, m: m["exptype"] == "psf",
    "allowed_candidates": lambda asn, m: (
        asn.rule.all_candidates_ok or asn.acid[1].lower() == "observation"
        or (asn.acid[1].lower() == "background"
            and any(e["exptype"].lower() == "background" for e in asn.current_product["members"]))),
    "is_type_observation": lambda asn, m: asn.acid[1].lower() == "observation",
    "is_type_mosaic": lambda asn, m: asn.acid[1].lower() == "mosaic",
    "is_not_group": lambda asn, m: asn.acid[1].lower() != "group",
    "has_pair": _has_pair,
}
