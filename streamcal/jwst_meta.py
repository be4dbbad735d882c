"""jwst's metadata tree of a product, built from its FITS headers, for its ``ASDF`` extension.

stdatamodels (the library jwst reads and writes products with) keeps a product's metadata twice:
as FITS keywords and as a tree in the ``ASDF`` extension (``meta.exposure.start_time`` for
EXPSTART, ``meta.wcs`` for the gwcs, ``data`` as a reference to the SCI extension ...).  jwst's
pipelines given a *file name* read that extension before anything else (stpipe's CRDS
parameters and ``ModelLibrary`` call ``read_metadata``, which fails without it), so every
product streamcal writes carries one: :func:`metadata_tree` is the tree stdatamodels builds from
the same FITS headers, :mod:`streamcal.wcs.serialize` adds ``meta.wcs`` and writes the bytes.

The keyword -> tree-path map is a fact of jwst's data-model schemas (stdatamodels 6.0), held
here as data so that writing products needs no jwst installation: :data:`_TABLE`, one line per
schema entry, ``<models>|<HDU>|<keyword or @ for an array>|<tree path>``, ``<models>`` the
letters of :data:`MODELS` whose schema has the entry (``*``: all).  :func:`generate_table`
rebuilds it from an installed stdatamodels (tests/test_jwst_interop.py checks they agree).

The tree carries no FITS hash (``_fits_hash``): without one stdatamodels always re-reads the
FITS keywords on open, so the headers stay authoritative even after someone edits them with
astropy, and the ``extra_fits`` section (every keyword outside the schemas) is left for it to
rebuild from the headers too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from asdf.tags.core.ndarray import numpy_dtype_to_asdf_datatype
from asdf.tagged import TaggedDict
from astropy.io import fits

__all__ = ["MODELS", "SchemaEntry", "entries", "metadata_tree", "generate_table"]

#: The stdatamodels classes streamcal writes, by the letter the table uses for them.
MODELS = {"I": "ImageModel", "C": "CubeModel", "R": "RampModel", "G": "GuiderCalModel",
          "S": "SegmentationMapModel", "L": "Level1bModel"}
#: How stdatamodels (asdf >= 3 default standard 1.6) tags a reference to a FITS array, and the
#: prefix of its ``source``.
NDARRAY_TAG = "tag:stsci.edu:asdf/core/ndarray-1.1.0"
FITS_SOURCE_PREFIX = "fits:"


@dataclass(frozen=True)
class SchemaEntry:
    """One schema node stored in FITS: a keyword of an HDU, or an HDU's array (``keyword``
    None), and where the tree keeps it."""

    hdu: str
    keyword: str | None
    path: tuple[str, ...]


@lru_cache(maxsize=None)
def entries(model_type: str) -> tuple[SchemaEntry, ...]:
    """The schema entries of a stdatamodels class (one of :data:`MODELS`' values).

    Raises
    ------
    KeyError
        A class the table does not cover.
    """
    letter = {name: code for code, name in MODELS.items()}[model_type]
    out = []
    for line in _TABLE.strip().splitlines():
        models, hdu, keyword, path = line.split("|")
        if models == "*" or letter in models:
            out.append(SchemaEntry(hdu, None if keyword == "@" else keyword, tuple(path.split("."))))
    return tuple(out)


def metadata_tree(hdul: Sequence, model_type: str | None = None) -> dict:
    """The tree stdatamodels builds from the headers of ``hdul`` (an HDU list, or the HDUs
    about to become one) for ``model_type`` (default: the primary header's DATAMODL): every
    schema keyword present at its path, every schema array present as a reference to its
    extension (``fits:SCI,1``); values as the written headers will hold them.

    Raises
    ------
    KeyError
        No DATAMODL, or a class the table does not cover.
    """
    model_type = model_type or str(hdul[0].header["DATAMODL"])
    # the first HDU of a name wins, as in astropy's lookup by name
    by_name = {("PRIMARY" if index == 0 else hdu.name): (index, hdu) for index, hdu in reversed(list(enumerate(hdul)))}
    written: dict[int, fits.Header] = {}
    tree: dict = {}
    for entry in entries(model_type):
        index, hdu = by_name.get(entry.hdu, (None, None))
        if hdu is None:
            continue
        if entry.keyword is None:
            value = _array_reference(hdu, index) if hdu.data is not None else None
        else:
            if index not in written:
                written[index] = _as_written(hdu.header)
            value = _keyword_value(written[index], entry.keyword)
        if value is not None:
            _put(tree, entry.path, value)
    return tree


def _as_written(header: fits.Header) -> fits.Header:
    """The header as a reader of the file will see it: a card holds at most 20 characters of
    a number, so a value can lose its last digits on the way to disk, and the tree must hold
    the value stdatamodels reads back, not the one in memory."""
    return fits.Header.fromstring(header.tostring())


def _keyword_value(header: fits.Header, keyword: str):
    """The card's value as stdatamodels takes it; None when absent or valueless (an
    undefined value has no ASDF form)."""
    value = header.get(keyword)
    if value is None or isinstance(value, fits.card.Undefined):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _array_reference(hdu, index: int) -> TaggedDict:
    """A reference to ``hdu``'s array in the surrounding FITS file: astropy writes arrays
    C-contiguous and big-endian whatever they are in memory, so the reference says big."""
    datatype, byteorder = numpy_dtype_to_asdf_datatype(hdu.data.dtype, include_byteorder=True,
                                                       override_byteorder="big")
    source = f"{FITS_SOURCE_PREFIX}{hdu.name},{hdu.ver}" if hdu.name else f"{FITS_SOURCE_PREFIX}{index}"
    return TaggedDict({"source": source, "shape": list(hdu.data.shape), "datatype": datatype,
                       "byteorder": byteorder}, NDARRAY_TAG)


def _put(tree: dict, path: tuple[str, ...], value) -> None:
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def generate_table() -> str:
    """:data:`_TABLE` as the installed stdatamodels' schemas give it (needs stdatamodels).

    Raises
    ------
    ValueError
        A schema stores keywords under list indices, which this table cannot express.
    """
    import asdf
    from stdatamodels import schema as model_schema
    from stdatamodels.jwst import datamodels

    found: dict[tuple[str, str, str], str] = {}
    for letter, name in MODELS.items():
        schema = asdf.schema.load_schema(getattr(datamodels, name).schema_url, resolve_references=True)
        for hdu, keyword, path in _schema_nodes(model_schema, schema):
            found[(hdu, keyword, path)] = found.get((hdu, keyword, path), "") + letter
    everyone = "".join(MODELS)
    lines = [f"{'*' if letters == everyone else letters}|{hdu}|{keyword}|{path}"
             for (hdu, keyword, path), letters in found.items()]
    return "\n".join(sorted(lines, key=lambda line: line.split("|", 1)[1])) + "\n"


def _schema_nodes(model_schema, schema: dict) -> list[tuple[str, str, str]]:
    """(HDU, keyword or "@", dotted path) of every FITS-stored node, as stdatamodels' loader
    walks them (an array node: one with a dimension or datatype)."""
    nodes = []

    def visit(node, path, combiner, ctx, recurse):
        if not all(isinstance(part, str) for part in path):
            raise ValueError(f"list-indexed schema path {path}")
        if "fits_keyword" in node:
            nodes.append((node.get("fits_hdu", "PRIMARY"), node["fits_keyword"], ".".join(path)))
        elif "fits_hdu" in node and ({"max_ndim", "ndim", "datatype"} & set(node)):
            nodes.append((node["fits_hdu"], "@", ".".join(path)))

    model_schema.walk_schema(schema, visit)
    return nodes


#: Generated by :func:`generate_table` from stdatamodels 6.0.0 (jwst 3.0.0).
_TABLE = """
IC|AREA|@|area
R|AVDRKCUR|@|average_dark_current
I|CON|@|con
ICG|DQ|@|dq
ICG|ERR|@|err
ICRGL|ERR|BUNIT|meta.bunit_err
G|FGS Centroid Packet|@|centroid_table
G|FGS Centroid Packet|DETECTID|meta.detector_id
G|FGS Centroid Packet|GUIDESTA|meta.guide_star_state
G|Flight Reference Stars|@|flight_star_table
G|Flight Reference Stars|NUMREFST|meta.numrefst
R|GROUPDQ|@|groupdq
RL|GROUP|@|group
CRL|INT_TIMES_STRIPE|@|int_times_stripe
CRL|INT_TIMES|@|int_times
I|MASK|@|mask
L|MOVING_TARGET_POSITION|@|moving_target
RL|MSA_TARG_ACQ|@|msa_targ_acq_table
RL|MSA_TARG_ACQ|BCKGMETH|bckgmeth
RL|MSA_TARG_ACQ|CENBOXCL|cenboxcl
RL|MSA_TARG_ACQ|CENBOXRW|cenboxrw
RL|MSA_TARG_ACQ|CONVTHRS|convthrs
RL|MSA_TARG_ACQ|CRMETHOD|crmethod
RL|MSA_TARG_ACQ|FITROFFS|fitroffs
RL|MSA_TARG_ACQ|FITTARGS|fittargs
RL|MSA_TARG_ACQ|FITXOFFS|fitxoffs
RL|MSA_TARG_ACQ|FITXSIGM|fitxsigm
RL|MSA_TARG_ACQ|FITYOFFS|fityoffs
RL|MSA_TARG_ACQ|FITYSIGM|fitysigm
RL|MSA_TARG_ACQ|GUIDERID|guiderid
RL|MSA_TARG_ACQ|IDEAL_X|ideal_x
RL|MSA_TARG_ACQ|IDEAL_Y|ideal_y
RL|MSA_TARG_ACQ|IDL_ROLL|idl_roll
RL|MSA_TARG_ACQ|IMAGETYP|imagetyp
RL|MSA_TARG_ACQ|ITERATNS|iteratns
RL|MSA_TARG_ACQ|NUMREFST|msa_targ_ref_stars_number
RL|MSA_TARG_ACQ|OFFSTMAG|offstmag
RL|MSA_TARG_ACQ|SAM_ROLL|sam_roll
RL|MSA_TARG_ACQ|SAM_X|sam_x
RL|MSA_TARG_ACQ|SAM_Y|sam_y
RL|MSA_TARG_ACQ|STAT_RSN|stat_rsn
RL|MSA_TARG_ACQ|TASTATUS|tastatus
RL|MSA_TARG_ACQ|V2HFOFFS|msa_half_facet_offset_V2
RL|MSA_TARG_ACQ|V2MSACTR|v2msactr
RL|MSA_TARG_ACQ|V3HFOFFS|msa_half_facet_offset_V3
RL|MSA_TARG_ACQ|V3MSACTR|v3msactr
I|PATHLOSS_PS|@|pathloss_point
I|PATHLOSS_UN|@|pathloss_uniform
R|PIXELDQ|@|pixeldq
*|PRIMARY|ACT_ID|meta.observation.activity_id
*|PRIMARY|APERNAME|meta.aperture.name
*|PRIMARY|ASNPOOL|meta.asn.pool_name
*|PRIMARY|ASNTABLE|meta.asn.table_name
*|PRIMARY|BAND|meta.instrument.band
*|PRIMARY|BARTDELT|meta.time.barycentric_correction
*|PRIMARY|BENDTIME|meta.time.barycentric_expend
*|PRIMARY|BKGDTARG|meta.observation.bkgdtarg
*|PRIMARY|BKGD_SCL|meta.background.scaling_factor
*|PRIMARY|BKGLEVEL|meta.background.level
*|PRIMARY|BKGMETH|meta.background.method
*|PRIMARY|BKGSUB|meta.background.subtracted
*|PRIMARY|BMIDTIME|meta.time.barycentric_expmid
*|PRIMARY|BSTRTIME|meta.time.barycentric_expstart
*|PRIMARY|CAL_VCS|meta.calibration_software_revision
*|PRIMARY|CAL_VER|meta.calibration_software_version
*|PRIMARY|CATEGORY|meta.program.category
*|PRIMARY|CCCSTATE|meta.instrument.ccc_state
*|PRIMARY|CHANNEL|meta.instrument.channel
*|PRIMARY|CMD_TSEL|meta.exposure.cmd_tsel
*|PRIMARY|COMPRESS|meta.compress
*|PRIMARY|CONT_ID|meta.program.continuation_id
*|PRIMARY|CORONMSK|meta.instrument.coronagraph
*|PRIMARY|CRDS_CTX|meta.ref_file.crds.context_used
*|PRIMARY|CRDS_VER|meta.ref_file.crds.sw_version
*|PRIMARY|CROWDFLD|meta.visit.crowded_field
*|PRIMARY|DATAEND|meta.guidestar.data_end
*|PRIMARY|DATAMODE|meta.exposure.datamode
*|PRIMARY|DATAMODL|meta.model_type
*|PRIMARY|DATAPROB|meta.exposure.data_problem
*|PRIMARY|DATASTRT|meta.guidestar.data_start
*|PRIMARY|DATE-BEG|meta.observation.date_beg
*|PRIMARY|DATE-END|meta.observation.date_end
*|PRIMARY|DATE-OBS|meta.observation.date
*|PRIMARY|DATE|meta.date
*|PRIMARY|DETECTOR|meta.instrument.detector
*|PRIMARY|DETMODE|meta.exposure.detmode
*|PRIMARY|DETXCOR|meta.subarray.detxcor
*|PRIMARY|DETXSIZ|meta.subarray.detxsiz
*|PRIMARY|DETYCOR|meta.subarray.detycor
*|PRIMARY|DETYSIZ|meta.subarray.detysiz
*|PRIMARY|DIRIMAGE|meta.direct_image
*|PRIMARY|DITHDIRC|meta.dither.direction
*|PRIMARY|DITHOPFR|meta.dither.optimized_for
*|PRIMARY|DITHPNTS|meta.dither.sparse_points
*|PRIMARY|DITH_DEC|meta.dither.dithered_dec
*|PRIMARY|DITH_RA|meta.dither.dithered_ra
*|PRIMARY|DRPFRMS1|meta.exposure.drop_frames1
*|PRIMARY|DRPFRMS3|meta.exposure.drop_frames3
*|PRIMARY|DSETSTRT|meta.dither.starting_set
*|PRIMARY|DURATION|meta.exposure.duration
*|PRIMARY|EFFEXPTM|meta.exposure.exposure_time
*|PRIMARY|EFFINTTM|meta.exposure.integration_time
*|PRIMARY|ENGQLPTG|meta.visit.engdb_pointing_quality
*|PRIMARY|ENG_QUAL|meta.visit.engineering_quality
*|PRIMARY|EXPCOUNT|meta.exposure.count
*|PRIMARY|EXPEND|meta.exposure.end_time
*|PRIMARY|EXPMID|meta.exposure.mid_time
*|PRIMARY|EXPOSURE|meta.observation.exposure_number
*|PRIMARY|EXPRIPAR|meta.exposure.prime_parallel
*|PRIMARY|EXPSTART|meta.exposure.start_time
*|PRIMARY|EXPSTENG|meta.exposure.start_time_eng
*|PRIMARY|EXP_ONLY|meta.visit.exp_only
*|PRIMARY|EXP_TYPE|meta.exposure.type
*|PRIMARY|EXSEGNUM|meta.exposure.segment_number
*|PRIMARY|EXSEGTOT|meta.exposure.segment_total
*|PRIMARY|EXTNCRS|meta.exposure.extended_emission_events
*|PRIMARY|FA1VALUE|meta.nircam_focus.fa1value
*|PRIMARY|FA2VALUE|meta.nircam_focus.fa2value
*|PRIMARY|FA3VALUE|meta.nircam_focus.fa3value
*|PRIMARY|FAM_LA1|meta.nircam_focus.fam_la1
*|PRIMARY|FAM_LA2|meta.nircam_focus.fam_la2
*|PRIMARY|FAM_LA3|meta.nircam_focus.fam_la3
*|PRIMARY|FAPHASE1|meta.nircam_focus.faphase1
*|PRIMARY|FAPHASE2|meta.nircam_focus.faphase2
*|PRIMARY|FAPHASE3|meta.nircam_focus.faphase3
*|PRIMARY|FASTAXIS|meta.subarray.fastaxis
*|PRIMARY|FASTEP1|meta.nircam_focus.fastep1
*|PRIMARY|FASTEP2|meta.nircam_focus.fastep2
*|PRIMARY|FASTEP3|meta.nircam_focus.fastep3
*|PRIMARY|FAUNIT1|meta.nircam_focus.faunit1
*|PRIMARY|FAUNIT2|meta.nircam_focus.faunit2
*|PRIMARY|FAUNIT3|meta.nircam_focus.faunit3
*|PRIMARY|FCSRLPOS|meta.nirspec_wfsc.rma_step
*|PRIMARY|FGS_APER|meta.guidestar.fgs_aperture
*|PRIMARY|FILENAME|meta.filename
*|PRIMARY|FILTER|meta.instrument.filter
*|PRIMARY|FOCUSPOS|meta.instrument.focus_position
*|PRIMARY|FPE_SIDE|meta.instrument.miri_fpe_side
*|PRIMARY|FRMDIVSR|meta.exposure.frame_divisor
*|PRIMARY|FWCPOS|meta.instrument.filter_position
*|PRIMARY|FWPOSOFF|meta.instrument.filter_wheel_offset
*|PRIMARY|FWPOSTOL|meta.instrument.filter_wheel_tolerance
*|PRIMARY|FXD_SLIT|meta.instrument.fixed_slit
*|PRIMARY|GAINFACT|meta.exposure.gain_factor
*|PRIMARY|GDSTARID|meta.guidestar.gs_id
*|PRIMARY|GF_END|meta.guidestar.gs_function_end_time
*|PRIMARY|GF_START|meta.guidestar.gs_function_start_time
*|PRIMARY|GRATING|meta.instrument.grating
*|PRIMARY|GROUPGAP|meta.exposure.groupgap
*|PRIMARY|GSACSTAT|meta.guidestar.gs_acq_exec_stat
*|PRIMARY|GSCENTX|meta.guidestar.gs_ctd_x
*|PRIMARY|GSCENTY|meta.guidestar.gs_ctd_y
*|PRIMARY|GSC_VER|meta.guide_star_catalog_version
*|PRIMARY|GSENDTIM|meta.guidestar.gs_stop_time
*|PRIMARY|GSIDL_X|meta.guidestar.gs_ideal_x
*|PRIMARY|GSIDL_Y|meta.guidestar.gs_ideal_y
*|PRIMARY|GSSTRTTM|meta.guidestar.gs_start_time
*|PRIMARY|GS_DEC|meta.guidestar.gs_dec
*|PRIMARY|GS_EPOCH|meta.guidestar.gs_epoch
*|PRIMARY|GS_MAG|meta.guidestar.gs_mag
*|PRIMARY|GS_MUDEC|meta.guidestar.gs_mudec
*|PRIMARY|GS_MURA|meta.guidestar.gs_mura
*|PRIMARY|GS_ORDER|meta.guidestar.gs_order
*|PRIMARY|GS_PARA|meta.guidestar.gs_para
*|PRIMARY|GS_RA|meta.guidestar.gs_ra
*|PRIMARY|GS_UDEC|meta.guidestar.gs_udec
*|PRIMARY|GS_UMAG|meta.guidestar.gs_umag
*|PRIMARY|GS_URA|meta.guidestar.gs_ura
*|PRIMARY|GS_V3_PA|meta.guidestar.gs_v3_pa_science
*|PRIMARY|GWA_PXAV|meta.instrument.gwa_pxav
*|PRIMARY|GWA_PYAV|meta.instrument.gwa_pyav
*|PRIMARY|GWA_TILT|meta.instrument.gwa_tilt
*|PRIMARY|GWA_XP_V|meta.instrument.gwa_xp_v
*|PRIMARY|GWA_XTIL|meta.instrument.gwa_xtilt
*|PRIMARY|GWA_YP_V|meta.instrument.gwa_yp_v
*|PRIMARY|GWA_YTIL|meta.instrument.gwa_ytilt
*|PRIMARY|HELIDELT|meta.time.heliocentric_correction
*|PRIMARY|HENDTIME|meta.time.heliocentric_expend
*|PRIMARY|HGA_MOVE|meta.hga_move
*|PRIMARY|HGA_STOP|meta.hga_stop_time
*|PRIMARY|HGA_STRT|meta.hga_start_time
*|PRIMARY|HMIDTIME|meta.time.heliocentric_expmid
*|PRIMARY|HSTRTIME|meta.time.heliocentric_expstart
*|PRIMARY|HYBRIDFF|meta.exposure.hybrid_full_frame
*|PRIMARY|ICE_SIDE|meta.instrument.miri_ice_side
*|PRIMARY|INSTRUME|meta.instrument.name
*|PRIMARY|INT1BORS|meta.rscd.keep_groups_saturation_int1
*|PRIMARY|INT1SKIP|meta.rscd.ngroups_skip_int1
*|PRIMARY|INT1UGP1|meta.rscd.keep_bright_firstgroup_int1
*|PRIMARY|INT2BORS|meta.rscd.keep_groups_saturation_int2p
*|PRIMARY|INT2SKIP|meta.rscd.ngroups_skip_int2p
*|PRIMARY|INT2UGP1|meta.rscd.keep_bright_firstgroup_int2p
*|PRIMARY|INTARGET|meta.visit.internal_target
*|PRIMARY|INTEND|meta.exposure.integration_end
*|PRIMARY|INTSTART|meta.exposure.integration_start
*|PRIMARY|IS_IMPRT|meta.exposure.imprint
*|PRIMARY|IS_PSF|meta.exposure.psf_reference
*|PRIMARY|LAMP|meta.instrument.lamp_state
*|PRIMARY|MASTERBG|meta.background.master_background_file
*|PRIMARY|MIRNFRMS|meta.exposure.miri_fsw_nframes
*|PRIMARY|MIRNGRPS|meta.exposure.miri_fsw_ngroups
*|PRIMARY|MODULE|meta.instrument.module
*|PRIMARY|MRSPRCHN|meta.dither.primary_channel
*|PRIMARY|MSACONID|meta.instrument.msa_configuration_id
*|PRIMARY|MSAMETFL|meta.instrument.msa_metadata_file
*|PRIMARY|MSAMETID|meta.instrument.msa_metadata_id
*|PRIMARY|MSASTATE|meta.instrument.msa_state
*|PRIMARY|MSTR_ILV|meta.subarray.interleave_reads1
*|PRIMARY|MSTR_RD1|meta.subarray.multistripe_reads1
*|PRIMARY|MSTR_RD2|meta.subarray.multistripe_reads2
*|PRIMARY|MSTR_RPT|meta.subarray.repeat_stripe
*|PRIMARY|MSTR_SK1|meta.subarray.multistripe_skips1
*|PRIMARY|MSTR_SK2|meta.subarray.multistripe_skips2
*|PRIMARY|MU_DEC|meta.target.proper_motion_dec
*|PRIMARY|MU_EPOCH|meta.target.proper_motion_epoch
*|PRIMARY|MU_RA|meta.target.proper_motion_ra
*|PRIMARY|NDRIZ|meta.resample.pointings
*|PRIMARY|NEXPOSUR|meta.visit.total_exposures
*|PRIMARY|NFRAMES|meta.exposure.nframes
*|PRIMARY|NGROUPS|meta.exposure.ngroups
*|PRIMARY|NINTS|meta.exposure.nints
*|PRIMARY|NOD_TYPE|meta.dither.nod_type
*|PRIMARY|NOUTPUTS|meta.exposure.noutputs
*|PRIMARY|NRESETS|meta.exposure.nresets_between_ints
*|PRIMARY|NRIMDTPT|meta.dither.dither_points
*|PRIMARY|NRSTSTRT|meta.exposure.nresets_at_start
*|PRIMARY|NRS_NORM|meta.exposure.nrs_normal
*|PRIMARY|NRS_REF|meta.exposure.nrs_reference
*|PRIMARY|NSAMPLES|meta.exposure.nsamples
*|PRIMARY|NUMDSETS|meta.dither.number_of_sets
*|PRIMARY|NUMDTHPT|meta.dither.total_points
*|PRIMARY|NWFSEST|meta.nwfsest
*|PRIMARY|OBSERVTN|meta.observation.observation_number
*|PRIMARY|OBSFOLDR|meta.observation.observation_folder
*|PRIMARY|OBSLABEL|meta.observation.observation_label
*|PRIMARY|OBS_ID|meta.observation.obs_id
*|PRIMARY|OPMODE|meta.instrument.lamp_mode
*|PRIMARY|ORIGIN|meta.origin
*|PRIMARY|OSF_FILE|meta.exposure.osf_file
*|PRIMARY|OSS_VER|meta.oss_software_version
*|PRIMARY|OVERSAMP|meta.soss_extract1d.oversampling
*|PRIMARY|PATTNPTS|meta.dither.total_cycling_points
*|PRIMARY|PATTSIZE|meta.dither.pattern_size
*|PRIMARY|PATTSTRT|meta.dither.pattern_start
*|PRIMARY|PATTTYPE|meta.dither.primary_type
*|PRIMARY|PATT_NUM|meta.dither.position_number
*|PRIMARY|PCS_MODE|meta.guidestar.gs_pcs_mode
*|PRIMARY|PILIN|meta.instrument.pupil_imaging_lens
*|PRIMARY|PIXFRAC|meta.resample.pixfrac
*|PRIMARY|PI_NAME|meta.program.pi_name
*|PRIMARY|PPS_APER|meta.aperture.pps_name
*|PRIMARY|PRD_VER|meta.prd_software_version
*|PRIMARY|PREIMAGE|meta.instrument.pre_image_id
*|PRIMARY|PRIDTPTS|meta.dither.primary_points
*|PRIMARY|PRIDTYPE|meta.dither.primary_dither_type
*|PRIMARY|PRIMECRS|meta.exposure.primary_cosmic_rays
*|PRIMARY|PROGRAM|meta.observation.program_number
*|PRIMARY|PROP_DEC|meta.target.proposer_dec
*|PRIMARY|PROP_RA|meta.target.proposer_ra
*|PRIMARY|PUPIL|meta.instrument.pupil
*|PRIMARY|PWCPOS|meta.instrument.pupil_position
*|PRIMARY|PWFSEET|meta.pwfseet
*|PRIMARY|PWPOSOFF|meta.instrument.pupil_wheel_offset
*|PRIMARY|PWPOSTOL|meta.instrument.pupil_wheel_tolerance
*|PRIMARY|PXSCLRT|meta.resample.pixel_scale_ratio
*|PRIMARY|READPATT|meta.exposure.readpatt
*|PRIMARY|RESWHT|meta.resample.weight_type
*|PRIMARY|RMA_POS|meta.nirspec_wfsc.rma_pos
*|PRIMARY|ROLL_REF|meta.guidestar.fgs_roll_ref
*|PRIMARY|R_AREA|meta.ref_file.area.name
*|PRIMARY|R_BARSHA|meta.ref_file.barshadow.name
*|PRIMARY|R_BKG|meta.ref_file.bkg.name
*|PRIMARY|R_CAMERA|meta.ref_file.camera.name
*|PRIMARY|R_CHRCOR|meta.ref_file.chromcorr.name
*|PRIMARY|R_COLLIM|meta.ref_file.collimator.name
*|PRIMARY|R_CUBPAR|meta.ref_file.cubepar.name
*|PRIMARY|R_DARK|meta.ref_file.dark.name
*|PRIMARY|R_DFLAT|meta.ref_file.dflat.name
*|PRIMARY|R_DISPER|meta.ref_file.disperser.name
*|PRIMARY|R_DISTOR|meta.ref_file.distortion.name
*|PRIMARY|R_EXTR1D|meta.ref_file.extract1d.name
*|PRIMARY|R_FFLAT|meta.ref_file.fflat.name
*|PRIMARY|R_FILOFF|meta.ref_file.filteroffset.name
*|PRIMARY|R_FLAT|meta.ref_file.flat.name
*|PRIMARY|R_FORE|meta.ref_file.fore.name
*|PRIMARY|R_FPA|meta.ref_file.fpa.name
*|PRIMARY|R_FRIFRQ|meta.ref_file.fringefreq.name
*|PRIMARY|R_FRINGE|meta.ref_file.fringe.name
*|PRIMARY|R_GAIN|meta.ref_file.gain.name
*|PRIMARY|R_IFUFOR|meta.ref_file.ifufore.name
*|PRIMARY|R_IFUPOS|meta.ref_file.ifupost.name
*|PRIMARY|R_IFUSLI|meta.ref_file.ifuslicer.name
*|PRIMARY|R_IPC|meta.ref_file.ipc.name
*|PRIMARY|R_LASTFR|meta.ref_file.lastframe.name
*|PRIMARY|R_LINEAR|meta.ref_file.linearity.name
*|PRIMARY|R_MASK|meta.ref_file.mask.name
*|PRIMARY|R_MIREMI|meta.ref_file.emicorr.name
*|PRIMARY|R_MRSPT|meta.ref_file.mrsptcorr.name
*|PRIMARY|R_MRSXAR|meta.ref_file.mrsxartcorr.name
*|PRIMARY|R_MSAOPE|meta.ref_file.badshutter.name
*|PRIMARY|R_MSA|meta.ref_file.msa.name
*|PRIMARY|R_NRM|meta.ref_file.nrm.name
*|PRIMARY|R_OTE|meta.ref_file.ote.name
*|PRIMARY|R_PERSAT|meta.ref_file.persat.name
*|PRIMARY|R_PHOTOM|meta.ref_file.photom.name
*|PRIMARY|R_PSFMAS|meta.ref_file.psfmask.name
*|PRIMARY|R_PSTSOS|meta.ref_file.pastasoss.name
*|PRIMARY|R_PTHLOS|meta.ref_file.pathloss.name
*|PRIMARY|R_READNO|meta.ref_file.readnoise.name
*|PRIMARY|R_REFPIX|meta.ref_file.refpix.name
*|PRIMARY|R_REGION|meta.ref_file.regions.name
*|PRIMARY|R_RESAMP|meta.ref_file.resample.name
*|PRIMARY|R_RESET|meta.ref_file.reset.name
*|PRIMARY|R_RESOL|meta.ref_file.resolution.name
*|PRIMARY|R_RSCD|meta.ref_file.rscd.name
*|PRIMARY|R_SATURA|meta.ref_file.saturation.name
*|PRIMARY|R_SFLAT|meta.ref_file.sflat.name
*|PRIMARY|R_SIRSKL|meta.ref_file.sirskernel.name
*|PRIMARY|R_SPCWCS|meta.ref_file.specwcs.name
*|PRIMARY|R_SPKERN|meta.ref_file.speckernel.name
*|PRIMARY|R_SPPROF|meta.ref_file.specprofile.name
*|PRIMARY|R_SPTRAC|meta.ref_file.spectrace.name
*|PRIMARY|R_STRAY|meta.ref_file.straylight.name
*|PRIMARY|R_SUPERB|meta.ref_file.superbias.name
*|PRIMARY|R_THRPUT|meta.ref_file.throughput.name
*|PRIMARY|R_TRPDEN|meta.ref_file.trapdensity.name
*|PRIMARY|R_TRPPAR|meta.ref_file.trappars.name
*|PRIMARY|R_TSPHOT|meta.ref_file.tso_photometry.name
*|PRIMARY|R_V2V3|meta.ref_file.v2v3.name
*|PRIMARY|R_WAVCOR|meta.ref_file.wavecorr.name
*|PRIMARY|R_WAVMAP|meta.ref_file.wavemap.name
*|PRIMARY|R_WAVRAN|meta.ref_file.wavelengthrange.name
*|PRIMARY|SCATFILE|meta.source_catalog
*|PRIMARY|SCA_NUM|meta.exposure.sca_num
*|PRIMARY|SCICAT|meta.program.science_category
*|PRIMARY|SCTARATE|meta.exposure.clock_adjust_rate
*|PRIMARY|SDP_VER|meta.data_processing_software_version
*|PRIMARY|SEGMFILE|meta.segmentation_map
*|PRIMARY|SELFREF|meta.exposure.self_reference_survey
*|PRIMARY|SEQ_ID|meta.observation.sequence_id
*|PRIMARY|SLOWAXIS|meta.subarray.slowaxis
*|PRIMARY|SMGRDPAT|meta.dither.small_grid_pattern
*|PRIMARY|SOSSDLTX|meta.soss_extract1d.delta_x
*|PRIMARY|SOSSDLTY|meta.soss_extract1d.delta_y
*|PRIMARY|SOSSROTN|meta.soss_extract1d.theta
*|PRIMARY|SOSSWDTH|meta.soss_extract1d.width
*|PRIMARY|SPATNSTP|meta.dither.spatial_total_points
*|PRIMARY|SPATSTEP|meta.dither.spatial_step_size
*|PRIMARY|SPAT_NUM|meta.dither.spatial_position_number
*|PRIMARY|SPCOFFST|meta.dither.spectral_offset
*|PRIMARY|SPECNSTP|meta.dither.spectral_total_points
*|PRIMARY|SPECSTEP|meta.dither.spectral_step_size
*|PRIMARY|SPEC_NUM|meta.dither.spectral_position_number
*|PRIMARY|SPTOFFST|meta.dither.spatial_offset
*|PRIMARY|SRCTYAPT|meta.target.source_type_apt
*|PRIMARY|SSTR_NST|meta.subarray.num_superstripe
*|PRIMARY|SSTR_STP|meta.subarray.superstripe_step
*|PRIMARY|SUBARRAY|meta.subarray.name
*|PRIMARY|SUBCAT|meta.program.sub_category
*|PRIMARY|SUBPXPAT|meta.dither.subpixel_pattern
*|PRIMARY|SUBPXPTS|meta.dither.subpixel_total_points
*|PRIMARY|SUBSIZE1|meta.subarray.xsize
*|PRIMARY|SUBSIZE2|meta.subarray.ysize
*|PRIMARY|SUBSTRT1|meta.subarray.xstart
*|PRIMARY|SUBSTRT2|meta.subarray.ystart
*|PRIMARY|SUB_LONG|meta.subarray.subarray_long
*|PRIMARY|SUB_SHRT|meta.subarray.subarray_short
*|PRIMARY|S_AMIANA|meta.cal_step.ami_analyze
*|PRIMARY|S_AMINOR|meta.cal_step.ami_normalize
*|PRIMARY|S_BARSHA|meta.cal_step.barshadow
*|PRIMARY|S_BKDSUB|meta.cal_step.bkg_subtract
*|PRIMARY|S_BPXSLF|meta.cal_step.badpix_selfcal
*|PRIMARY|S_CHGMIG|meta.cal_step.charge_migration
*|PRIMARY|S_CLNFNS|meta.cal_step.clean_flicker_noise
*|PRIMARY|S_COMB1D|meta.cal_step.combine_1d
*|PRIMARY|S_CONTAM|meta.cal_step.wfss_contam
*|PRIMARY|S_DARK|meta.cal_step.dark_sub
*|PRIMARY|S_DQINIT|meta.cal_step.dq_init
*|PRIMARY|S_ERRINI|meta.cal_step.err_init
*|PRIMARY|S_EXTR1D|meta.cal_step.extract_1d
*|PRIMARY|S_EXTR2D|meta.cal_step.extract_2d
*|PRIMARY|S_FLAT|meta.cal_step.flat_field
*|PRIMARY|S_FRINGE|meta.cal_step.fringe
*|PRIMARY|S_FRSTFR|meta.cal_step.firstframe
*|PRIMARY|S_GANSCL|meta.cal_step.gain_scale
*|PRIMARY|S_GRPSCL|meta.cal_step.group_scale
*|PRIMARY|S_GUICDS|meta.cal_step.guider_cds
*|PRIMARY|S_IFUCUB|meta.cal_step.cube_build
*|PRIMARY|S_IMPRNT|meta.cal_step.imprint
*|PRIMARY|S_IPC|meta.cal_step.ipc
*|PRIMARY|S_JUMP|meta.cal_step.jump
*|PRIMARY|S_KLIP|meta.cal_step.klip
*|PRIMARY|S_LASTFR|meta.cal_step.lastframe
*|PRIMARY|S_LINEAR|meta.cal_step.linearity
*|PRIMARY|S_MIREMI|meta.cal_step.emicorr
*|PRIMARY|S_MSAFLG|meta.cal_step.msa_flagging
*|PRIMARY|S_MSBSUB|meta.cal_step.master_background
*|PRIMARY|S_MTWCS|meta.cal_step.assign_mtwcs
*|PRIMARY|S_OUTLIR|meta.cal_step.outlier_detection
*|PRIMARY|S_PCTFRM|meta.cal_step.picture_frame
*|PRIMARY|S_PERSIS|meta.cal_step.persistence
*|PRIMARY|S_PHOTOM|meta.cal_step.photom
*|PRIMARY|S_PSFALI|meta.cal_step.align_psfs
*|PRIMARY|S_PSFSTK|meta.cal_step.stack_psfs
*|PRIMARY|S_PTHLOS|meta.cal_step.pathloss
*|PRIMARY|S_PXREPL|meta.cal_step.pixel_replace
*|PRIMARY|S_RAMP|meta.cal_step.ramp_fit
*|PRIMARY|S_REFPIX|meta.cal_step.refpix
*|PRIMARY|S_RESAMP|meta.cal_step.resample
*|PRIMARY|S_RESET|meta.cal_step.reset
*|PRIMARY|S_RESFRI|meta.cal_step.residual_fringe
*|PRIMARY|S_RSCD|meta.cal_step.rscd
*|PRIMARY|S_SATURA|meta.cal_step.saturation
*|PRIMARY|S_SKYMAT|meta.cal_step.skymatch
*|PRIMARY|S_SPLEAK|meta.cal_step.spectral_leak
*|PRIMARY|S_SRCCAT|meta.cal_step.source_catalog
*|PRIMARY|S_SRCTYP|meta.cal_step.srctype
*|PRIMARY|S_STRAY|meta.cal_step.straylight
*|PRIMARY|S_SUPERB|meta.cal_step.superbias
*|PRIMARY|S_TACNTR|meta.cal_step.targ_centroid
*|PRIMARY|S_TELEMI|meta.cal_step.emission
*|PRIMARY|S_TRCMOD|meta.cal_step.adaptive_trace_model
*|PRIMARY|S_TSPHOT|meta.cal_step.tso_photometry
*|PRIMARY|S_TWKREG|meta.cal_step.tweakreg
*|PRIMARY|S_WAVCOR|meta.cal_step.wavecorr
*|PRIMARY|S_WCS|meta.cal_step.assign_wcs
*|PRIMARY|S_WFSCOM|meta.cal_step.wfs_combine
*|PRIMARY|S_WHTLIT|meta.cal_step.white_light
*|PRIMARY|TARGCAT|meta.target.category
*|PRIMARY|TARGDESC|meta.target.description
*|PRIMARY|TARGNAME|meta.target.catalog_name
*|PRIMARY|TARGOOPP|meta.visit.too_visit
*|PRIMARY|TARGPROP|meta.target.proposer_name
*|PRIMARY|TARGTYPE|meta.target.type
*|PRIMARY|TARGUDEC|meta.target.dec_uncertainty
*|PRIMARY|TARGURA|meta.target.ra_uncertainty
*|PRIMARY|TARG_DEC|meta.target.dec
*|PRIMARY|TARG_RA|meta.target.ra
*|PRIMARY|TCATFILE|meta.tweakreg_catalog
*|PRIMARY|TELESCOP|meta.telescope
*|PRIMARY|TEMPLATE|meta.observation.template
*|PRIMARY|TFRAME|meta.exposure.frame_time
*|PRIMARY|TGROUP|meta.exposure.group_time
*|PRIMARY|THRESHLD|meta.soss_extract1d.threshold
*|PRIMARY|TIKFACTR|meta.soss_extract1d.tikhonov_factor
*|PRIMARY|TIME-OBS|meta.observation.time
*|PRIMARY|TIMESYS|meta.time_sys
*|PRIMARY|TIMEUNIT|meta.time_unit
*|PRIMARY|TITLE|meta.program.title
*|PRIMARY|TMEASURE|meta.exposure.measurement_time
*|PRIMARY|TSAMPLE|meta.exposure.sample_time
*|PRIMARY|TSOVISIT|meta.visit.tsovisit
*|PRIMARY|V2_REF|meta.guidestar.fgs_v2_ref
*|PRIMARY|V3I_YANG|meta.guidestar.fgs_v3yangle
*|PRIMARY|V3_REF|meta.guidestar.fgs_v3_ref
*|PRIMARY|VA_DEC|meta.velocity_aberration.va_dec_ref
*|PRIMARY|VA_RA|meta.velocity_aberration.va_ra_ref
*|PRIMARY|VISITEND|meta.guidestar.visit_end_time
*|PRIMARY|VISITGRP|meta.observation.visit_group
*|PRIMARY|VISITSTA|meta.visit.status
*|PRIMARY|VISITYPE|meta.visit.type
*|PRIMARY|VISIT_ID|meta.observation.visit_id
*|PRIMARY|VISIT|meta.observation.visit_number
*|PRIMARY|VPARITY|meta.guidestar.fgs_vparity
*|PRIMARY|VSTSTART|meta.visit.start_time
*|PRIMARY|XOFFSET|meta.dither.x_offset
*|PRIMARY|YOFFSET|meta.dither.y_offset
*|PRIMARY|ZEROFRAM|meta.exposure.zero_frame
G|Planned Reference Stars|@|planned_star_table
G|Pointing|@|pointing_table
G|Pointing|DDCFLDPT|meta.ddc_field_point
G|Pointing|DEC_DDC|meta.dec_ddc
G|Pointing|DEC_J1|meta.dec_j1
G|Pointing|DEC_V1|meta.dec_v1
G|Pointing|JITTRAVG|meta.jitter_average
G|Pointing|JITTRMAX|meta.jitter_max
G|Pointing|JITTRMIN|meta.jitter_min
G|Pointing|PA_APER|meta.position_angle
G|Pointing|PA_J3|meta.pa_j3
G|Pointing|PA_V3|meta.pa_v3
G|Pointing|POINTTIM|meta.pointing_time
G|Pointing|RA_DDC|meta.ra_ddc
G|Pointing|RA_J1|meta.ra_j1
G|Pointing|RA_V1|meta.ra_v1
RL|REFOUT|@|refout
*|SCI|@|data
*|SCI|AP_0_2|meta.wcsinfo.ap_0_2
*|SCI|AP_0_3|meta.wcsinfo.ap_0_3
*|SCI|AP_0_4|meta.wcsinfo.ap_0_4
*|SCI|AP_0_5|meta.wcsinfo.ap_0_5
*|SCI|AP_0_6|meta.wcsinfo.ap_0_6
*|SCI|AP_1_1|meta.wcsinfo.ap_1_1
*|SCI|AP_1_2|meta.wcsinfo.ap_1_2
*|SCI|AP_1_3|meta.wcsinfo.ap_1_3
*|SCI|AP_1_4|meta.wcsinfo.ap_1_4
*|SCI|AP_1_5|meta.wcsinfo.ap_1_5
*|SCI|AP_2_0|meta.wcsinfo.ap_2_0
*|SCI|AP_2_1|meta.wcsinfo.ap_2_1
*|SCI|AP_2_2|meta.wcsinfo.ap_2_2
*|SCI|AP_2_3|meta.wcsinfo.ap_2_3
*|SCI|AP_2_4|meta.wcsinfo.ap_2_4
*|SCI|AP_3_0|meta.wcsinfo.ap_3_0
*|SCI|AP_3_1|meta.wcsinfo.ap_3_1
*|SCI|AP_3_2|meta.wcsinfo.ap_3_2
*|SCI|AP_3_3|meta.wcsinfo.ap_3_3
*|SCI|AP_4_0|meta.wcsinfo.ap_4_0
*|SCI|AP_4_1|meta.wcsinfo.ap_4_1
*|SCI|AP_4_2|meta.wcsinfo.ap_4_2
*|SCI|AP_5_0|meta.wcsinfo.ap_5_0
*|SCI|AP_5_1|meta.wcsinfo.ap_5_1
*|SCI|AP_6_0|meta.wcsinfo.ap_6_0
*|SCI|AP_ORDER|meta.wcsinfo.ap_order
*|SCI|A_0_2|meta.wcsinfo.a_0_2
*|SCI|A_0_3|meta.wcsinfo.a_0_3
*|SCI|A_0_4|meta.wcsinfo.a_0_4
*|SCI|A_0_5|meta.wcsinfo.a_0_5
*|SCI|A_0_6|meta.wcsinfo.a_0_6
*|SCI|A_1_1|meta.wcsinfo.a_1_1
*|SCI|A_1_2|meta.wcsinfo.a_1_2
*|SCI|A_1_3|meta.wcsinfo.a_1_3
*|SCI|A_1_4|meta.wcsinfo.a_1_4
*|SCI|A_1_5|meta.wcsinfo.a_1_5
*|SCI|A_2_0|meta.wcsinfo.a_2_0
*|SCI|A_2_1|meta.wcsinfo.a_2_1
*|SCI|A_2_2|meta.wcsinfo.a_2_2
*|SCI|A_2_3|meta.wcsinfo.a_2_3
*|SCI|A_2_4|meta.wcsinfo.a_2_4
*|SCI|A_3_0|meta.wcsinfo.a_3_0
*|SCI|A_3_1|meta.wcsinfo.a_3_1
*|SCI|A_3_2|meta.wcsinfo.a_3_2
*|SCI|A_3_3|meta.wcsinfo.a_3_3
*|SCI|A_4_0|meta.wcsinfo.a_4_0
*|SCI|A_4_1|meta.wcsinfo.a_4_1
*|SCI|A_4_2|meta.wcsinfo.a_4_2
*|SCI|A_5_0|meta.wcsinfo.a_5_0
*|SCI|A_5_1|meta.wcsinfo.a_5_1
*|SCI|A_6_0|meta.wcsinfo.a_6_0
*|SCI|A_ORDER|meta.wcsinfo.a_order
*|SCI|BP_0_2|meta.wcsinfo.bp_0_2
*|SCI|BP_0_3|meta.wcsinfo.bp_0_3
*|SCI|BP_0_4|meta.wcsinfo.bp_0_4
*|SCI|BP_0_5|meta.wcsinfo.bp_0_5
*|SCI|BP_0_6|meta.wcsinfo.bp_0_6
*|SCI|BP_1_1|meta.wcsinfo.bp_1_1
*|SCI|BP_1_2|meta.wcsinfo.bp_1_2
*|SCI|BP_1_3|meta.wcsinfo.bp_1_3
*|SCI|BP_1_4|meta.wcsinfo.bp_1_4
*|SCI|BP_1_5|meta.wcsinfo.bp_1_5
*|SCI|BP_2_0|meta.wcsinfo.bp_2_0
*|SCI|BP_2_1|meta.wcsinfo.bp_2_1
*|SCI|BP_2_2|meta.wcsinfo.bp_2_2
*|SCI|BP_2_3|meta.wcsinfo.bp_2_3
*|SCI|BP_2_4|meta.wcsinfo.bp_2_4
*|SCI|BP_3_0|meta.wcsinfo.bp_3_0
*|SCI|BP_3_1|meta.wcsinfo.bp_3_1
*|SCI|BP_3_2|meta.wcsinfo.bp_3_2
*|SCI|BP_3_3|meta.wcsinfo.bp_3_3
*|SCI|BP_4_0|meta.wcsinfo.bp_4_0
*|SCI|BP_4_1|meta.wcsinfo.bp_4_1
*|SCI|BP_4_2|meta.wcsinfo.bp_4_2
*|SCI|BP_5_0|meta.wcsinfo.bp_5_0
*|SCI|BP_5_1|meta.wcsinfo.bp_5_1
*|SCI|BP_6_0|meta.wcsinfo.bp_6_0
*|SCI|BP_ORDER|meta.wcsinfo.bp_order
ICRGL|SCI|BUNIT|meta.bunit_data
*|SCI|B_0_2|meta.wcsinfo.b_0_2
*|SCI|B_0_3|meta.wcsinfo.b_0_3
*|SCI|B_0_4|meta.wcsinfo.b_0_4
*|SCI|B_0_5|meta.wcsinfo.b_0_5
*|SCI|B_0_6|meta.wcsinfo.b_0_6
*|SCI|B_1_1|meta.wcsinfo.b_1_1
*|SCI|B_1_2|meta.wcsinfo.b_1_2
*|SCI|B_1_3|meta.wcsinfo.b_1_3
*|SCI|B_1_4|meta.wcsinfo.b_1_4
*|SCI|B_1_5|meta.wcsinfo.b_1_5
*|SCI|B_2_0|meta.wcsinfo.b_2_0
*|SCI|B_2_1|meta.wcsinfo.b_2_1
*|SCI|B_2_2|meta.wcsinfo.b_2_2
*|SCI|B_2_3|meta.wcsinfo.b_2_3
*|SCI|B_2_4|meta.wcsinfo.b_2_4
*|SCI|B_3_0|meta.wcsinfo.b_3_0
*|SCI|B_3_1|meta.wcsinfo.b_3_1
*|SCI|B_3_2|meta.wcsinfo.b_3_2
*|SCI|B_3_3|meta.wcsinfo.b_3_3
*|SCI|B_4_0|meta.wcsinfo.b_4_0
*|SCI|B_4_1|meta.wcsinfo.b_4_1
*|SCI|B_4_2|meta.wcsinfo.b_4_2
*|SCI|B_5_0|meta.wcsinfo.b_5_0
*|SCI|B_5_1|meta.wcsinfo.b_5_1
*|SCI|B_6_0|meta.wcsinfo.b_6_0
*|SCI|B_ORDER|meta.wcsinfo.b_order
*|SCI|CD1_1|meta.wcsinfo.cd1_1
*|SCI|CD1_2|meta.wcsinfo.cd1_2
*|SCI|CD2_1|meta.wcsinfo.cd2_1
*|SCI|CD2_2|meta.wcsinfo.cd2_2
*|SCI|CDELT1|meta.wcsinfo.cdelt1
*|SCI|CDELT2|meta.wcsinfo.cdelt2
*|SCI|CDELT3|meta.wcsinfo.cdelt3
*|SCI|CRPIX1|meta.wcsinfo.crpix1
*|SCI|CRPIX2|meta.wcsinfo.crpix2
*|SCI|CRPIX3|meta.wcsinfo.crpix3
*|SCI|CRVAL1|meta.wcsinfo.crval1
*|SCI|CRVAL2|meta.wcsinfo.crval2
*|SCI|CRVAL3|meta.wcsinfo.crval3
*|SCI|CTYPE1|meta.wcsinfo.ctype1
*|SCI|CTYPE2|meta.wcsinfo.ctype2
*|SCI|CTYPE3|meta.wcsinfo.ctype3
*|SCI|CUNIT1|meta.wcsinfo.cunit1
*|SCI|CUNIT2|meta.wcsinfo.cunit2
*|SCI|CUNIT3|meta.wcsinfo.cunit3
*|SCI|DEC_REF|meta.wcsinfo.dec_ref
*|SCI|DEC_V1|meta.pointing.dec_v1
*|SCI|DISPAXIS|meta.wcsinfo.dispersion_direction
*|SCI|EPH_TIME|meta.ephemeris.time
*|SCI|EPH_TYPE|meta.ephemeris.type
*|SCI|JWST_DX|meta.ephemeris.velocity_x_bary
*|SCI|JWST_DY|meta.ephemeris.velocity_y_bary
*|SCI|JWST_DZ|meta.ephemeris.velocity_z_bary
*|SCI|JWST_X|meta.ephemeris.spatial_x_bary
*|SCI|JWST_Y|meta.ephemeris.spatial_y_bary
*|SCI|JWST_Z|meta.ephemeris.spatial_z_bary
*|SCI|MJD-AVG|meta.exposure.mid_time_mjd
*|SCI|MJD-BEG|meta.exposure.start_time_mjd
*|SCI|MJD-END|meta.exposure.end_time_mjd
*|SCI|MT_AVDEC|meta.wcsinfo.mt_avdec
*|SCI|MT_AVRA|meta.wcsinfo.mt_avra
*|SCI|MT_DEC|meta.wcsinfo.mt_dec
*|SCI|MT_RA|meta.wcsinfo.mt_ra
*|SCI|OBSGEO-X|meta.ephemeris.spatial_x_geo
*|SCI|OBSGEO-Y|meta.ephemeris.spatial_y_geo
*|SCI|OBSGEO-Z|meta.ephemeris.spatial_z_geo
*|SCI|OBSGEODX|meta.ephemeris.velocity_x_geo
*|SCI|OBSGEODY|meta.ephemeris.velocity_y_geo
*|SCI|OBSGEODZ|meta.ephemeris.velocity_z_geo
*|SCI|PA_APER|meta.aperture.position_angle
*|SCI|PA_V3|meta.pointing.pa_v3
*|SCI|PC1_1|meta.wcsinfo.pc1_1
*|SCI|PC1_2|meta.wcsinfo.pc1_2
*|SCI|PC1_3|meta.wcsinfo.pc1_3
*|SCI|PC2_1|meta.wcsinfo.pc2_1
*|SCI|PC2_2|meta.wcsinfo.pc2_2
*|SCI|PC2_3|meta.wcsinfo.pc2_3
*|SCI|PC3_1|meta.wcsinfo.pc3_1
*|SCI|PC3_2|meta.wcsinfo.pc3_2
*|SCI|PC3_3|meta.wcsinfo.pc3_3
ICRSL|SCI|PHOTMJSR|meta.photometry.conversion_megajanskys
ICRSL|SCI|PHOTUJA2|meta.photometry.conversion_microjanskys
ICRSL|SCI|PIXAR_A2|meta.photometry.pixelarea_arcsecsq
ICRSL|SCI|PIXAR_SR|meta.photometry.pixelarea_steradians
*|SCI|PS3_0|meta.wcsinfo.ps3_0
*|SCI|PS3_1|meta.wcsinfo.ps3_1
*|SCI|RADESYS|meta.coordinates.reference_frame
*|SCI|RA_REF|meta.wcsinfo.ra_ref
*|SCI|RA_V1|meta.pointing.ra_v1
*|SCI|REFFRAME|meta.ephemeris.reference_frame
*|SCI|ROLL_REF|meta.wcsinfo.roll_ref
*|SCI|SPECSYS|meta.wcsinfo.specsys
*|SCI|SPORDER|meta.wcsinfo.spectral_order
*|SCI|SRCTYPE|meta.target.source_type
*|SCI|S_REGION|meta.wcsinfo.s_region
*|SCI|TDB-BEG|meta.exposure.start_time_tdb
*|SCI|TDB-END|meta.exposure.end_time_tdb
*|SCI|TDB-MID|meta.exposure.mid_time_tdb
*|SCI|TELAPSE|meta.exposure.elapsed_exposure_time
*|SCI|V2_REF|meta.wcsinfo.v2_ref
*|SCI|V3I_YANG|meta.wcsinfo.v3yangle
*|SCI|V3_REF|meta.wcsinfo.v3_ref
*|SCI|VA_SCALE|meta.velocity_aberration.scale_factor
*|SCI|VELOSYS|meta.wcsinfo.velosys
*|SCI|VPARITY|meta.wcsinfo.vparity
*|SCI|WAVEND|meta.wcsinfo.waverange_end
*|SCI|WAVSTART|meta.wcsinfo.waverange_start
*|SCI|WCSAXES|meta.wcsinfo.wcsaxes
*|SCI|XPOSURE|meta.exposure.effective_exposure_time
*|SCI|XREF_SCI|meta.wcsinfo.siaf_xref_sci
*|SCI|YREF_SCI|meta.wcsinfo.siaf_yref_sci
G|Track subarray table|@|track_sub_table
IC|VAR_FLAT|@|var_flat
IC|VAR_POISSON|@|var_poisson
IC|VAR_RNOISE|@|var_rnoise
IC|WAVELENGTH|@|wavelength
I|WHT|@|wht
ICRL|ZEROFRAME|@|zeroframe
"""
