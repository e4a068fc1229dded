"""Deterministic generator of school statistics: the bundled sample and national scale.

The numbers are invented but shaped like the real statistics: crowded urban schools short
of floor area, small rural schools short of specialist teachers, teaching points under and
over 50 students, combined schools with several sections, special-education and 民办
schools. Each county has a profile that decides whether its variation coefficients pass,
and counties improve a little every year, so the outputs tell a story.

``generate_sample()`` builds the four seed provinces (贵州, 江苏, 福建, 新疆);
``generate_national()`` about 2,850 counties and 260,000 schools a year for the benchmark.
Same seed, same rows, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from junheng.contract import COUNTY_COLUMNS, SCHOOL_COLUMNS
from junheng.policy import InputChecks

SAMPLE_SEED = 20231
SAMPLE_YEARS = (2022, 2023, 2024)

# Real 2-digit province codes and names from policy/regions.toml (counties are invented).
PROVINCES = {code: name for code, (name, _) in InputChecks.load().provinces.items()}
SAMPLE_PROVINCES = ("52", "32", "35", "65")

_SYLLABLES = list("青云石清松白龙凤金银桃柳梅竹兰溪河江湖山岭川泉源平安宁和顺康乐丰盛新明光华阳南北东西")

# County profiles: (quality factor, dispersion per indicator group, share of rural schools,
# whether schools keep to the building standards: class sizes, room counts, school size).
# Dispersion is the spread of school values around the county's level; a CV is about that size.
PROFILES = {
    #                    quality  teachers  specialists  area   equipment  rural  compliant
    "balanced":         (1.45,    0.12,     0.12,        0.12,  0.14,      0.35,  True),
    "urban_crowded":    (1.10,    0.20,     0.22,        0.62,  0.30,      0.15,  False),
    "rural_thin":       (1.05,    0.22,     0.66,        0.25,  0.30,      0.70,  True),
    "lagging":          (0.90,    0.42,     0.55,        0.50,  0.58,      0.60,  False),
}
# Names of the sample's counties tell their profile to nobody; the order gives each province a mix.
SAMPLE_PROFILE_CYCLE = ("balanced", "urban_crowded", "rural_thin", "balanced", "lagging")

# Share of each school type among schools (teaching points split into under/over 50 below).
TYPE_SHARES = {
    "小学": 0.54, "初级中学": 0.15, "九年一贯制学校": 0.10, "完全中学": 0.04,
    "十二年一贯制学校": 0.01, "小学教学点": 0.16,
}


@dataclass(frozen=True)
class County:
    province_code: str
    prefecture: str
    county_code: str
    county_name: str
    profile: str
    schools: int


def _name(rng: np.random.Generator, suffix: str) -> str:
    return "".join(rng.choice(_SYLLABLES, 2)) + suffix


def sample_counties(seed: int = SAMPLE_SEED) -> list[County]:
    """Five counties in each seed province over two prefectures, profiles in a fixed mix."""
    rng = np.random.default_rng(seed)
    counties = []
    for p_index, code in enumerate(SAMPLE_PROVINCES):
        for c in range(5):
            pref = 1 + c // 3
            profile = SAMPLE_PROFILE_CYCLE[(c + p_index) % len(SAMPLE_PROFILE_CYCLE)]
            counties.append(
                County(code, _name(rng, "市"), f"{code}{pref:02d}{c + 21:02d}", _name(rng, "县"),
                       profile, int(rng.integers(22, 40)))
            )
    return counties


def national_counties(counties: int = 2850, schools_per_year: int = 260_000, seed: int = 7) -> list[County]:
    rng = np.random.default_rng(seed)
    codes = list(PROVINCES)
    per_province = np.full(len(codes), counties // len(codes))
    per_province[: counties - per_province.sum()] += 1
    sizes = rng.gamma(4.0, schools_per_year / counties / 4.0, counties)
    sizes = np.clip(np.round(sizes * schools_per_year / sizes.sum()), 3, 999).astype(int)
    profiles = rng.choice(list(PROFILES), counties, p=[0.35, 0.2, 0.25, 0.2])
    out, k = [], 0
    for code, n in zip(codes, per_province):
        for c in range(n):
            pref, num = 1 + c // 20, 1 + c % 20
            out.append(County(code, f"{PROVINCES[code][:2]}第{pref}市", f"{code}{pref:02d}{num:02d}",
                              f"{PROVINCES[code][:2]}{c + 1:03d}县", str(profiles[k]), int(sizes[k])))
            k += 1
    return out


def _county_schools(rng: np.random.Generator, county: County, year_index: int) -> dict[str, np.ndarray]:
    """Rows of one county in one year, as arrays of the contract's columns."""
    quality, s_teach, s_spec, s_area, s_equip, rural_share, compliant = PROFILES[county.profile]
    improve = 1.0 + 0.04 * year_index       # resources grow a little every year
    narrow = 0.92 ** year_index             # and school gaps narrow
    n = county.schools
    types = rng.choice(list(TYPE_SHARES), n, p=list(TYPE_SHARES.values()))
    types = np.append(types, "特殊教育学校")
    n += 1
    location = np.where(rng.random(n) < rural_share, "乡村", np.where(rng.random(n) < 0.5, "镇区", "城区"))
    location[types == "小学教学点"] = "乡村"
    private = (rng.random(n) < 0.07) & np.isin(types, ["小学", "初级中学", "九年一贯制学校"])
    urban = location == "城区"

    size = rng.lognormal(0.0, 0.45, n) * np.where(urban, 1.6, np.where(location == "镇区", 1.0, 0.55))
    if compliant:  # no school over 2,000 compulsory students
        size = np.minimum(size, 1.9)
    prim = np.zeros(n); jun = np.zeros(n); sen = np.zeros(n)
    t = types
    prim = np.where(t == "小学", 650 * size, prim)
    prim = np.where(np.isin(t, ["九年一贯制学校", "十二年一贯制学校"]), 520 * size, prim)
    prim = np.where(t == "小学教学点", rng.integers(12, 110, n), prim)
    prim = np.where(t == "特殊教育学校", rng.integers(20, 90, n), prim)
    jun = np.where(t == "初级中学", 900 * size, jun)
    jun = np.where(np.isin(t, ["九年一贯制学校", "完全中学", "十二年一贯制学校"]), 480 * size, jun)
    jun = np.where(t == "特殊教育学校", rng.integers(10, 50, n), jun)
    sen = np.where(np.isin(t, ["完全中学", "十二年一贯制学校"]), 700 * size, sen)
    prim, jun, sen = (np.maximum(np.round(x), 0).astype(np.int64) for x in (prim, jun, sen))
    prim[(prim == 0) & np.isin(t, ["小学", "九年一贯制学校", "十二年一贯制学校", "小学教学点"])] = 12
    jun[(jun == 0) & np.isin(t, ["初级中学", "九年一贯制学校", "完全中学", "十二年一贯制学校"])] = 30

    def spread(sigma: float, k: int = n) -> np.ndarray:
        sigma = sigma * narrow
        return rng.lognormal(-sigma * sigma / 2, sigma, k)

    q = quality * improve
    # Crowded urban schools are short of area; small rural schools short of specialist teachers.
    area_bias = np.where(urban, 0.75, 1.1) if not compliant else np.ones(n)
    spec_bias = np.where(location == "乡村", 0.8, 1.1) if not compliant else np.ones(n)

    def teachers(students: np.ndarray, ratio: float) -> np.ndarray:
        return np.where(students > 0, np.maximum(1, np.round(students / ratio * spread(0.12))), 0).astype(np.int64)

    p_teach, j_teach = teachers(prim, 17.0), teachers(jun, 12.5)
    def count_per100(students: np.ndarray, total: np.ndarray, per100: float, sigma: float,
                     bias: np.ndarray | float = 1.0) -> np.ndarray:
        want = students * per100 / 100 * q * spread(sigma) * bias
        return np.minimum(total, np.round(want)).astype(np.int64)

    p_qual = count_per100(prim, p_teach, 5.2, s_teach)
    j_qual = count_per100(jun, j_teach, 6.6, s_teach)
    p_back = count_per100(prim, p_teach, 1.2, s_spec * 0.8, spec_bias)
    j_back = count_per100(jun, j_teach, 1.25, s_spec * 0.8, spec_bias)
    p_pe = count_per100(prim, p_teach, 1.15, s_spec, spec_bias)
    j_pe = count_per100(jun, j_teach, 1.15, s_spec, spec_bias)

    weighted = prim + 1.1 * jun + 1.32 * sen
    area_per = 5.6 * q * spread(s_area) * area_bias
    teaching_area = np.round(weighted * area_per * np.where(jun > prim, 1.25, 1.0), 1)
    indoor = np.round(teaching_area * rng.uniform(0.02, 0.08, n), 1)
    sports_ground = np.round(weighted * 9.0 * q * spread(s_area) * area_bias * np.where(jun > prim, 1.3, 1.0), 1)
    equipment = np.round(weighted * 2500 * q * spread(s_equip) * np.where(jun > prim, 1.2, 1.0) / 10000, 2)
    class_size = np.where(urban, rng.uniform(38, 47, n), rng.uniform(22, 40, n))
    if compliant:
        class_size = np.minimum(class_size, 36)
    p_classes = np.where(prim > 0, np.maximum(1, np.ceil(prim / class_size)), 0).astype(np.int64)
    j_classes = np.where(jun > 0, np.maximum(1, np.ceil(jun / (class_size + 2))), 0).astype(np.int64)
    s_classes = np.where(sen > 0, np.ceil(sen / 48), 0)
    multimedia = np.round((p_classes + j_classes + s_classes) * rng.uniform(0.95, 1.2, n) * spread(s_equip * 0.6))
    multimedia = np.maximum(multimedia, 1).astype(np.int64)
    p_max = np.where(prim > 0, np.round(np.minimum(prim, class_size + rng.integers(0, 9, n))), None)
    j_max = np.where(jun > 0, np.round(np.minimum(jun, class_size + 2 + rng.integers(0, 10, n))), None)
    classes = p_classes + j_classes
    room_rate = rng.uniform(1.0, 1.4, n) if compliant else rng.uniform(0.6, 1.4, n)
    music = np.ceil(classes / 12 * room_rate).astype(np.int64)
    art = np.ceil(classes / 12 * room_rate).astype(np.int64)
    low_m, low_a = (96, 90) if compliant else (70, 70)
    music_area = np.where(music > 0, np.round(rng.uniform(low_m, 130, n), 1), None)
    art_area = np.where(art > 0, np.round(rng.uniform(low_a, 125, n), 1), None)

    seq = np.arange(1, n + 1)
    ids = np.array([f"1{county.county_code}{i:03d}" for i in seq])
    parent = np.full(n, None, dtype=object)
    primaries = ids[t == "小学"]
    tp = t == "小学教学点"
    if primaries.size and tp.any():
        parent[tp] = rng.choice(primaries, int(tp.sum()))
    names = np.array([f"{county.county_name[:-1]}{_kind_name(k)}{i:03d}" for k, i in zip(t, seq)])

    return {
        "school_id": ids, "school_name": names, "school_type": t,
        "ownership": np.where(private, "民办", "公办"), "location": location, "parent_school_id": parent,
        "boarding": np.where((location == "乡村") & (rng.random(n) < 0.4), "是", "否"),
        "primary_students": prim, "junior_students": jun, "senior_students": sen,
        "primary_classes": p_classes, "junior_classes": j_classes,
        "primary_max_class_size": p_max, "junior_max_class_size": j_max,
        "primary_teachers": p_teach, "junior_teachers": j_teach,
        "primary_teachers_above_qual": p_qual, "junior_teachers_above_qual": j_qual,
        "primary_backbone_teachers": p_back, "junior_backbone_teachers": j_back,
        "primary_pe_arts_teachers": p_pe, "junior_pe_arts_teachers": j_pe,
        "teaching_aux_area_m2": teaching_area, "indoor_sports_area_m2": indoor,
        "sports_ground_area_m2": sports_ground, "equipment_value_10k_yuan": equipment,
        "multimedia_classrooms": multimedia, "music_rooms": music, "art_rooms": art,
        "music_room_min_area_m2": music_area, "art_room_min_area_m2": art_area,
        "books": np.round(weighted * rng.uniform(18, 45, n)).astype(np.int64),
        "computers": np.round(weighted * rng.uniform(0.08, 0.2, n)).astype(np.int64),
        "teachers_mid_senior_title": np.round((p_teach + j_teach) * rng.uniform(0.3, 0.7, n)).astype(np.int64),
    }


def _kind_name(school_type: str) -> str:
    return {"小学": "小学", "初级中学": "中学", "九年一贯制学校": "九年制学校", "完全中学": "完全中学",
            "十二年一贯制学校": "十二年制学校", "小学教学点": "教学点", "特殊教育学校": "特殊教育学校"}[school_type]


def generate(counties: list[County], years: tuple[int, ...], seed: int) -> pl.DataFrame:
    """School rows for the given counties and years, with the contract's English columns."""
    frames = []
    for y_index, year in enumerate(years):
        for c_index, county in enumerate(counties):
            rng = np.random.default_rng([seed, year, c_index])
            cols = _county_schools(rng, county, y_index)
            n = len(cols["school_id"])
            cols = {k: (v.tolist() if isinstance(v, np.ndarray) and v.dtype == object else v) for k, v in cols.items()}
            frame = pl.DataFrame(cols, strict=False).with_columns(
                pl.lit(year).alias("year"),
                pl.lit(PROVINCES[county.province_code]).alias("province"),
                pl.lit(county.prefecture).alias("prefecture"),
                pl.lit(county.county_code).alias("county_code"),
                pl.lit(county.county_name).alias("county_name"),
            )
            assert frame.height == n
            frames.append(frame)
    out = pl.concat(frames, how="vertical_relaxed")
    return out.select([pl.col(c.name).cast(_out_dtype(c.kind)) for c in SCHOOL_COLUMNS])


def _out_dtype(kind: str) -> pl.DataType:
    return {"int": pl.Int64(), "float": pl.Float64()}.get(kind, pl.String())


def generate_sample() -> pl.DataFrame:
    return generate(sample_counties(), SAMPLE_YEARS, SAMPLE_SEED)


def generate_national(year: int = 2024, counties: int = 2850, schools: int = 260_000, seed: int = 7) -> pl.DataFrame:
    return generate(national_counties(counties, schools, seed), (year,), seed)


# ---- the county table ------------------------------------------------------------------------

# What the county forms say, by scenario, so that the sample shows every status: counties that
# pass, fail on resources only, fail one government item, are vetoed, or lack data.
# Balanced counties take these in turn; the others keep clean forms (they fail on resources).
BALANCED_SCENARIOS = ("pass", "teacher_pay_short", "pass", "vetoed", "missing_forms", "pass",
                      "provincial_rule", "pass")
OTHER_SCENARIOS = ("clean", "clean", "recent_basic_balance", "clean", "homework_burden")


def _county_form(county: County, year: int, y_index: int, scenario: str) -> dict:
    row = {
        "year": year, "county_code": county.county_code, "county_name": county.county_name,
        "province": PROVINCES[county.province_code],
        "layout_planning_ok": "是", "urban_rural_standards_unified": "是", "small_schools_funded_as_100": "是",
        "special_education_funding_per_student_yuan": 6000 + 400 * y_index,
        "teacher_avg_pay_yuan": 98000 + 3000 * y_index, "civil_servant_avg_pay_yuan": 96000 + 2500 * y_index,
        "training_360h_completion_pct": 100, "staffing_allocated_county_wide": "是",
        "rotation_share_pct": 11.5 + y_index, "rotation_backbone_share_pct": 22 + y_index,
        "certified_teachers_pct": 100, "nearby_enrolment_primary_pct": 100, "nearby_enrolment_junior_pct": 96.5,
        "quota_allocation_pct": 52 + y_index, "migrant_children_public_pct": 97.0, "left_behind_care_system": "是",
        "junior_retention_pct": 97.5, "disabled_enrolment_pct": 99.2 + 0.2 * y_index,
        "training_budget_share_pct": 5.5, "monitoring_min_level": 3, "monitoring_school_gap_rate": 0.12,
        "charters_and_ict_management": "是", "teachers_use_ict": "是", "moral_education_good": "是",
        "full_curriculum": "是", "homework_burden_ok": "是", "satisfaction_pct": 88 + y_index,
        "basic_balance_year": 2015, "veto_exam_admission": "否", "veto_illegal_school_choice": "否",
        "veto_key_schools_classes": "否", "evidence_note": "督导评估自评报告及佐证材料（示例）",
    }
    if scenario == "teacher_pay_short":  # pay below civil servants, closing slowly
        row["teacher_avg_pay_yuan"] = round(row["civil_servant_avg_pay_yuan"] * (0.93 + 0.025 * y_index))
    elif scenario == "vetoed":
        row["veto_key_schools_classes"] = "是"
        row["evidence_note"] = "存在重点班（示例）"
    elif scenario == "missing_forms":  # survey and monitoring not yet reported
        for key in ("satisfaction_pct", "monitoring_min_level", "monitoring_school_gap_rate"):
            row[key] = None
    elif scenario == "provincial_rule":  # passes the national number, not the province's
        if county.province_code == "35":
            row["migrant_children_public_pct"] = 90.0 + y_index
        elif county.province_code == "65":
            row["junior_retention_pct"] = 95.4 + 0.1 * y_index
        else:
            row["migrant_children_public_pct"] = 82.0 + y_index
    elif scenario == "recent_basic_balance":
        row["basic_balance_year"] = 2021
    elif scenario == "homework_burden":
        row["homework_burden_ok"] = "否"
    # as a form would hold them: no binary tails like 99.60000000000001
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}


def generate_county_forms(counties: list[County], years: tuple[int, ...]) -> pl.DataFrame:
    rows, balanced_seen, other_seen = [], 0, 0
    scenarios = {}
    for county in counties:
        if PROFILES[county.profile][0] == PROFILES["balanced"][0]:
            scenarios[county.county_code] = BALANCED_SCENARIOS[balanced_seen % len(BALANCED_SCENARIOS)]
            balanced_seen += 1
        else:
            scenarios[county.county_code] = OTHER_SCENARIOS[other_seen % len(OTHER_SCENARIOS)]
            other_seen += 1
    for y_index, year in enumerate(years):
        for county in counties:
            rows.append(_county_form(county, year, y_index, scenarios[county.county_code]))
    schema = {c.name: (pl.Int64 if c.kind == "int" else pl.Float64 if c.kind == "float" else pl.String)
              for c in COUNTY_COLUMNS}
    return pl.DataFrame(rows, schema=schema)


def with_chinese_headers(frame: pl.DataFrame) -> pl.DataFrame:
    zh = {c.name: c.zh for c in SCHOOL_COLUMNS + COUNTY_COLUMNS}
    return frame.rename({k: v for k, v in zh.items() if k in frame.columns})


def write_csv_gb18030(frame: pl.DataFrame, path: Path) -> None:
    """CSV with Chinese headers in GB18030, as Windows exports write it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = with_chinese_headers(frame).write_csv(line_terminator="\r\n")
    path.write_bytes(text.encode("gb18030"))


def write_xlsx(frame: pl.DataFrame, path: Path, title: str, sheet: str = "学校基本情况") -> None:
    """XLSX with a merged title row above the Chinese header, as provincial exports have."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    headed = with_chinese_headers(frame)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    ws = wb.add_worksheet(sheet)
    bold = wb.add_format({"bold": True, "align": "center"})
    ws.merge_range(0, 0, 0, len(headed.columns) - 1, title, bold)
    ws.write_row(1, 0, headed.columns, bold)
    for r, row in enumerate(headed.iter_rows(), start=2):
        for c, value in enumerate(row):
            if value is not None:
                ws.write(r, c, value)
    wb.close()


def write_sample(sample_dir: Path) -> pl.DataFrame:
    """(Re)write the bundled sample: the same rows as XLSX and as a GB18030 CSV."""
    frame = generate_sample()
    title = "义务教育学校基本情况（示例数据，数字均为虚构）"
    write_xlsx(frame, Path(sample_dir) / "xlsx" / "schools.xlsx", title)
    write_csv_gb18030(frame, Path(sample_dir) / "csv" / "schools.csv")
    forms = generate_county_forms(sample_counties(), SAMPLE_YEARS)
    write_xlsx(forms, Path(sample_dir) / "xlsx" / "counties.xlsx", "县域义务教育优质均衡补充数据（示例数据，虚构）",
               sheet="县级补充表")
    write_csv_gb18030(forms, Path(sample_dir) / "csv" / "counties.csv")
    # the same schools as the statistics system exports them, one workbook per booklet and year
    from junheng.sample_exports import write_exports

    exports = Path(sample_dir) / "exports"
    for old in exports.glob("*基层表*"):
        old.unlink()
    write_exports(frame, exports)
    write_xlsx(forms, exports / "counties.xlsx", "县域义务教育优质均衡补充数据（示例数据，虚构）", sheet="县级补充表")
    return frame
