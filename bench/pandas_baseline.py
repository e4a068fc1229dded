"""A plain vectorised-pandas version of the compute core, for the benchmark to measure junheng
against: assessment units (sections with the facility split), the seven indicators, the school
rule and the enrolment-weighted CVs. Written apart from the product, from the spec
(shared spec/indicators.md) and the national defaults, so it doubles as an independent check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

THRESHOLDS = {
    "primary": dict(qualified_teachers_per100=4.2, backbone_teachers_per100=1.0, pe_arts_teachers_per100=0.9,
                    teaching_area_per_student=4.5, sports_area_per_student=7.5,
                    equipment_value_per_student=2000, multimedia_rooms_per100=2.3),
    "junior": dict(qualified_teachers_per100=5.3, backbone_teachers_per100=1.0, pe_arts_teachers_per100=0.9,
                   teaching_area_per_student=5.8, sports_area_per_student=10.2,
                   equipment_value_per_student=2500, multimedia_rooms_per100=2.4),
}
WEIGHTS = {  # facility split: primary, junior, senior
    "小学": (1, 0, 0), "小学教学点": (1, 0, 0), "初级中学": (0, 1, 0), "九年一贯制学校": (1, 1.1, 0),
    "完全中学": (0, 1, 1.2), "十二年一贯制学校": (1, 1.1, 1.32),
}
IND = list(THRESHOLDS["primary"])


def units(s: pd.DataFrame) -> pd.DataFrame:
    s = s[(s.school_type != "特殊教育学校")
          & ~((s.school_type == "小学教学点") & (s.primary_students < 50))].copy()
    w = s.school_type.map(WEIGHTS)
    wp, wj, ws = (w.str[i].astype(float) for i in range(3))
    weighted = wp * s.primary_students + wj * s.junior_students + ws * s.senior_students
    teach = s.teaching_aux_area_m2 - s.indoor_sports_area_m2
    sport = s.sports_ground_area_m2 + s.indoor_sports_area_m2
    equip = s.equipment_value_10k_yuan * 10000
    parts = []
    for level, wl in (("primary", wp), ("junior", wj)):
        students = s[f"{level}_students"]
        share = wl * students / weighted
        keep = students > 0
        parts.append(pd.DataFrame({
            "county_code": s.county_code, "school_id": s.school_id, "level": level, "students": students,
            "qualified": s[f"{level}_teachers_above_qual"], "backbone": s[f"{level}_backbone_teachers"],
            "pe_arts": s[f"{level}_pe_arts_teachers"], "teach": teach * share, "sport": sport * share,
            "equip": equip * share, "rooms": s.multimedia_classrooms * share,
        })[keep])
    return pd.concat(parts, ignore_index=True)


def indicators(u: pd.DataFrame) -> pd.DataFrame:
    p = u.students
    out = u[["county_code", "school_id", "level", "students"]].copy()
    out["qualified_teachers_per100"] = 100 * u.qualified / p
    out["backbone_teachers_per100"] = 100 * u.backbone / p
    out["pe_arts_teachers_per100"] = 100 * u.pe_arts / p
    out["teaching_area_per_student"] = u.teach / p
    out["sports_area_per_student"] = u.sport / p
    out["equipment_value_per_student"] = u.equip / p
    out["multimedia_rooms_per100"] = 100 * u.rooms / p
    thr = pd.DataFrame(THRESHOLDS).T.loc[out.level].to_numpy()
    values = out[IND].to_numpy()
    met = values >= thr * (1 - 1e-9)
    floor = values >= 0.85 * thr * (1 - 1e-9)
    out["indicators_met"] = met.sum(axis=1)
    out["meets_school_standard"] = (met.sum(axis=1) >= 6) & floor.all(axis=1)
    return out


def county_cv(ind: pd.DataFrame) -> pd.DataFrame:
    long = ind.melt(id_vars=["county_code", "level", "students"], value_vars=IND, var_name="indicator")
    long["px"] = long.students * long.value
    g = long.groupby(["county_code", "level", "indicator"], sort=False)
    agg = g.agg(P=("students", "sum"), PX=("px", "sum"), units=("value", "size"))
    agg["xbar"] = agg.PX / agg.P
    long = long.join(agg["xbar"], on=["county_code", "level", "indicator"])
    long["dev"] = long.students * (long.value - long.xbar) ** 2
    agg["S2"] = long.groupby(["county_code", "level", "indicator"], sort=False).dev.sum()
    agg["cv"] = np.where(agg.units == 1, 0.0, np.sqrt(agg.S2 / agg.P) / agg.xbar)
    return agg.reset_index()


def compute(schools: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    ind = indicators(units(schools))
    return ind, county_cv(ind)
