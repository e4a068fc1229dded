"""County items at their edges, provincial rules, the scorecard, progress and basic balance."""

import pytest

from conftest import YEAR, county, one, school
from junheng.contract import COUNTY_COLUMNS
from junheng.policy import Policy

KINDS = {c.name: c.kind for c in COUNTY_COLUMNS}
POLICY = Policy.load()
NATIONAL_ITEMS = POLICY.national["items"]
FORM_ITEMS = {k: v for k, v in NATIONAL_ITEMS.items()
              if not v["input"].startswith(("school:", "county:"))}


def edge_cases():
    """(item, county-table column, value, expected verdict) at, just past, and without the threshold."""
    cases = []
    for item, spec in FORM_ITEMS.items():
        col, op = spec["input"], spec["op"]
        if op == ">=":
            t = spec["threshold"]
            step = 1 if KINDS[col] == "int" else 0.01 if t > 1 else 0.001
            cases += [(item, col, t, "pass"), (item, col, round(t - step, 4), "fail")]
        elif op == "<":
            t = spec["threshold"]
            cases += [(item, col, round(t - 0.001, 4), "pass"), (item, col, t, "fail")]
        elif op == "yes":
            cases += [(item, col, "是", "pass"), (item, col, "否", "fail")]
        elif op == "no":
            cases += [(item, col, "否", "pass"), (item, col, "是", "fail")]
        cases.append((item, col, None, "insufficient_data"))
    return cases


CASES = edge_cases()


@pytest.fixture(scope="module")
def edge_run(tmp_path_factory):
    """One run with one county per case (all in 贵州, which keeps the national numbers), each with
    one school: a county with no school in the school table is not assessed."""
    import duckdb

    from conftest import build_from_rows

    con = duckdb.connect(str(tmp_path_factory.mktemp("edges") / "w.duckdb"))
    forms = [county(f"52{k + 1000:04d}", **{col: value}) for k, (_, col, value, _) in enumerate(CASES)]
    schools = [school(f"10000{k:05d}", primary=300, county=f"52{k + 1000:04d}") for k in range(len(CASES))]
    build_from_rows(con, schools, forms, POLICY)
    yield con
    con.close()


def test_every_form_item_has_edge_cases():
    items = {c[0] for c in CASES}
    assert items == set(FORM_ITEMS) and len(FORM_ITEMS) >= 28


@pytest.mark.parametrize("k", range(len(CASES)), ids=[f"{c[0]}={c[2]}" for c in CASES])
def test_item_edge(edge_run, k):
    item, _, _, expected = CASES[k]
    verdict = one(edge_run, f"select verdict from county_items where county_code = '52{k + 1000:04d}' "
                            f"and item = '{item}'")
    assert verdict == expected


def test_edge_counties_fail_only_the_item_under_test(edge_run):
    # every county's other form items pass, so the case is what decides
    rows = edge_run.sql("""
        select county_code, list(item order by item) from county_items
        where verdict <> 'pass' and area <> 'resource' and county_code <> '520102'
          and item not in ('G03_music_art_rooms', 'G04_school_size', 'G05_class_size')
        group by all""").fetchall()
    assert len(rows) == len(CASES) - sum(1 for c in CASES if c[3] == "pass")
    for code, items in rows:
        k = int(code[2:]) - 1000
        assert items == [CASES[k][0]], (code, items)


def three_counties() -> list[dict]:
    return [school(f"100000000{i}", primary=300, county=f"52010{i}") for i in (2, 3, 4)]


def test_teacher_pay_ratio_at_and_below_parity(assess):
    con = assess(three_counties(), county_rows=[
        county("520102", teacher_avg_pay_yuan=100000, civil_servant_avg_pay_yuan=100000),
        county("520103", teacher_avg_pay_yuan=99990, civil_servant_avg_pay_yuan=100000),
        county("520104", teacher_avg_pay_yuan=None),
    ])
    got = dict(con.sql("select county_code, verdict from county_items where item = 'G08_teacher_pay'").fetchall())
    assert got == {"520102": "pass", "520103": "fail", "520104": "insufficient_data"}


def test_prerequisite_three_years(assess):
    con = assess(three_counties(), county_rows=[
        county("520102", basic_balance_year=YEAR - 3), county("520103", basic_balance_year=YEAR - 2),
        county("520104", basic_balance_year=None)])
    got = dict(con.sql("select county_code, verdict from county_items where item = 'P01_basic_balance_3_years'")
               .fetchall())
    assert got == {"520102": "pass", "520103": "fail", "520104": "insufficient_data"}


# ---- items computed from the school table -----------------------------------------------------


def school_item(con, item, code="520102"):
    return one(con, f"select verdict from county_items where item = '{item}' and county_code = '{code}'")


@pytest.mark.parametrize("students,school_type,expected", [
    (2000, "小学", "pass"), (2001, "小学", "fail"),
    (2500, "九年一贯制学校", "pass"), (2501, "九年一贯制学校", "fail"),
])
def test_school_size(assess, students, school_type, expected):
    if school_type == "小学":
        row = school("1000000001", primary=students)
    else:
        row = school("1000000001", school_type, primary=1000, junior=students - 1000)
    con = assess([row], county_rows=[county()])
    assert school_item(con, "G04_school_size") == expected


@pytest.mark.parametrize("field,value,expected", [
    ("primary_max_class_size", 45, "pass"), ("primary_max_class_size", 46, "fail"),
    ("primary_max_class_size", None, "insufficient_data"),
])
def test_primary_class_size(assess, field, value, expected):
    con = assess([school("1000000001", primary=400, **{field: value})], county_rows=[county()])
    assert school_item(con, "G05_class_size") == expected


@pytest.mark.parametrize("value,expected", [(50, "pass"), (51, "fail")])
def test_junior_class_size(assess, value, expected):
    con = assess([school("1000000001", "初级中学", junior=400, junior_max_class_size=value)], county_rows=[county()])
    assert school_item(con, "G05_class_size") == expected


@pytest.mark.parametrize("over,expected", [
    ({"primary_classes": 12, "music_rooms": 1, "art_rooms": 1}, "pass"),
    ({"primary_classes": 13, "music_rooms": 1, "art_rooms": 2}, "fail"),      # 13 classes need 2 music rooms
    ({"primary_classes": 12, "music_room_min_area_m2": 96.0, "art_room_min_area_m2": 90.0}, "pass"),
    ({"primary_classes": 12, "music_room_min_area_m2": 95.9}, "fail"),
    ({"primary_classes": 12, "art_room_min_area_m2": 89.9}, "fail"),
    ({"primary_classes": 12, "music_rooms": None}, "insufficient_data"),
])
def test_music_and_art_rooms(assess, over, expected):
    con = assess([school("1000000001", primary=480, **over)], county_rows=[county()])
    assert school_item(con, "G03_music_art_rooms") == expected


def test_teaching_points_need_no_special_rooms(assess):
    rows = [school("1000000001", primary=480, primary_classes=12),
            school("1000000002", "小学教学点", primary=60, music_rooms=0, art_rooms=0, parent_school_id="1000000001")]
    assert school_item(assess(rows, county_rows=[county()]), "G03_music_art_rooms") == "pass"


# ---- provincial rules ------------------------------------------------------------------------


@pytest.mark.parametrize("code,item,column,value,verdict,rule", [
    ("350102", "G15a_migrant_children", "migrant_children_public_pct", 95, "pass", "福建"),
    ("350102", "G15a_migrant_children", "migrant_children_public_pct", 94.9, "fail", "福建"),
    ("520102", "G15a_migrant_children", "migrant_children_public_pct", 85, "pass", "national"),
    ("650102", "Q01_retention", "junior_retention_pct", 96, "pass", "新疆"),
    ("650102", "Q01_retention", "junior_retention_pct", 95.9, "fail", "新疆"),
    ("650102", "Q02_disabled_enrolment", "disabled_enrolment_pct", 96.9, "fail", "新疆"),
    ("350102", "Q02_disabled_enrolment", "disabled_enrolment_pct", 98.9, "fail", "福建"),
    ("520102", "Q02_disabled_enrolment", "disabled_enrolment_pct", 95, "pass", "national"),
])
def test_provincial_overrides(assess, code, item, column, value, verdict, rule):
    con = assess([school("1000000001", primary=300, county=code)], county_rows=[county(code, **{column: value})])
    got = one(con, f"select verdict, rule from county_items where item = '{item}'")
    assert got == (verdict, rule)


def test_item_names_state_the_numbers_their_province_sets():
    # a province that changes a limit, a threshold or the school rule is named with its own
    # numbers, without renaming the item; other provinces keep the national words
    policy = Policy(POLICY.national, {**POLICY.overrides, "32": {
        "meta": {"province_code": "32", "rule": "江苏"},
        "government": {"school_limits": {"max_class_primary": 40, "max_class_junior": 45}},
        "resource": {"school_rule": {"min_indicators_met": 5, "floor_share": 0.875}},
        "items": {"G07_special_education_funding": {"threshold": 7500.5}}}})
    names = {(r["province_code"], r["item"]): r["item_name"]
             for r in policy.item_table(["32", "52"]).iter_rows(named=True)}
    assert names["32", "G05_class_size"] == "小学、初中所有班级学生数分别不超过40人、45人：超大班额学校数"
    assert names["52", "G05_class_size"] == "小学、初中所有班级学生数分别不超过45人、50人：超大班额学校数"
    assert names["32", "R01_all_units_meet_standard"] == "每所学校（评估单元）七项指标至少5项达标、余项不低于87.5%"
    assert names["52", "R01_all_units_meet_standard"] == "每所学校（评估单元）七项指标至少6项达标、余项不低于85%"
    assert names["32", "G07_special_education_funding"] == "特殊教育学校生均公用经费不低于7500.5元"
    assert names["52", "Q04b_monitoring_gap"] == "国家义务教育质量监测校际差异率低于0.15"
    assert names["52", "G04_school_size"] == ("学校规模不超过2000人（九年一贯制、十二年一贯制义务教育阶段不超过2500人）"
                                              "：超规模学校数")


@pytest.mark.parametrize("value,words", [(6, "6"), (2000, "2000"), (6000.0, "6000"), (0.15, "0.15"), (0.1 + 0.2, "0.3"),
                                         (87.5, "87.5"), (1e-7, "0.0000001"), (1e7, "10000000")])
def test_numbers_in_names_are_written_as_people_write_them(value, words):
    from junheng.policy import number_words

    assert number_words(value) == words


@pytest.mark.parametrize("name,reason", [("不超过{government.school_limits.max_class_senior}人", "which is not a setting"),
                                         ("{government.school_limits.combined_types}", "which is not a number"),
                                         ("不低于{threshold}", "which is not a setting")])
def test_an_item_name_naming_no_setting_is_an_error(name, reason):
    policy = Policy(POLICY.national, {"52": {"meta": {"province_code": "52"},
                                             "items": {"G01_layout_planning": {"name": name}}}})
    with pytest.raises(ValueError, match=reason) as error:
        policy.item_table(["52"])
    assert "G01_layout_planning" in str(error.value) and "项目" in str(error.value)


# ---- the scorecard ---------------------------------------------------------------------------


def scorecard(con):
    return con.sql("select status, resource_ok, government_ok, quality_ok, recognition_ok, prerequisite_ok, "
                   "vetoed, failing_items, insufficient_items from county_scorecard").fetchall()[0]


def test_quality_balanced_when_everything_passes(assess):
    card = scorecard(assess([school("1000000001", primary=300)], county_rows=[county()]))
    assert card == ("quality_balanced", True, True, True, True, True, False, [], [])


def test_one_government_item_fails(assess):
    card = scorecard(assess([school("1000000001", primary=300)], county_rows=[county(certified_teachers_pct=99)]))
    assert card[0] == "not_yet" and card[2] is False and card[7] == ["G12_certified_teachers"]


def test_veto_fails_whatever_else(assess):
    card = scorecard(assess([school("1000000001", primary=300)],
                            county_rows=[county(veto_illegal_school_choice="是")]))
    assert card[0] == "not_yet" and card[6] is True and card[7] == ["V02_illegal_school_choice"]


def test_missing_data_is_never_a_pass(assess):
    card = scorecard(assess([school("1000000001", primary=300)], county_rows=[county(satisfaction_pct=None)]))
    assert card[0] == "insufficient_data" and card[4] is None and card[8] == ["S01_satisfaction"]


def test_no_county_form_at_all(assess):
    card = scorecard(assess([school("1000000001", primary=300)]))
    assert card[0] == "insufficient_data" and card[1] is True and card[2] is None and card[6] is None


def test_resources_fail_on_one_cv(assess):
    rows = [school("1000000001", primary=300), school("1000000002", primary=300, teaching_aux_area_m2=300 * 30.0)]
    card = scorecard(assess(rows, county_rows=[county()]))
    assert card[0] == "not_yet" and card[1] is False
    assert card[7] == ["R_cv_primary_teaching_area_per_student"]


def test_resources_fail_on_the_school_rule(assess):
    card = scorecard(assess([school("1000000001", primary=300, sports_ground_area_m2=300 * 5.0)],
                            county_rows=[county()]))
    assert card[7] == ["R01_all_units_meet_standard"]


# ---- progress --------------------------------------------------------------------------------


def test_projection_from_the_trend(assess):
    years = (2022, 2023, 2024)
    rows = [school("1000000001", primary=300, year=y) for y in years]
    # pay ratio 0.94, 0.96, 0.98 → slope 0.02 a year → reaches 1.0 in 2025
    forms = [county(year=y, teacher_avg_pay_yuan=94000 + 2000 * i, civil_servant_avg_pay_yuan=100000)
             for i, y in enumerate(years)]
    con = assess(rows, county_rows=forms)
    slope, projected, note = one(con, "select slope_per_year, projected_pass_year, trend_note from county_items "
                                      "where year = 2024 and item = 'G08_teacher_pay'")
    assert slope == pytest.approx(0.02) and projected == 2025 and note == "improving"
    got = one(con, "select projected_year, on_track_2027, on_track_2030 from county_progress where year = 2024")
    assert got == (2025, True, True)


def test_no_projection_when_not_improving(assess):
    years = (2023, 2024)
    rows = [school("1000000001", primary=300, year=y) for y in years]
    forms = [county(year=y, satisfaction_pct=84 - i) for i, y in enumerate(years)]
    con = assess(rows, county_rows=forms)
    got = one(con, "select projected_year, on_track_2035, projection_note from county_progress where year = 2024")
    assert got[0] is None and got[1] is False and "S01_satisfaction" in got[2]


def test_province_progress_against_milestone(assess):
    # 贵州 (52): next milestone 2028, 20% of counties. One of two counties passes → 50% → on track.
    rows = [school("1000000001", primary=300), school("1000000002", primary=300, county="520103")]
    con = assess(rows, county_rows=[county(), county("520103", homework_burden_ok="否")])
    got = one(con, "select counties, counties_quality_balanced, share_quality_balanced, next_milestone_year, "
                   "next_milestone_target_share, on_track, target_is_assumption from province_progress")
    assert got == (2, 1, 0.5, 2028, 0.2, True, False)


def test_vast_majority_is_an_explicit_assumption(assess):
    # 江苏 (32): next milestone 2030, 绝大多数 → 90% by default, flagged as an assumption.
    con = assess([school("1000000001", primary=300, county="320102", province="江苏省")],
                 county_rows=[county("320102")])
    got = one(con, "select next_milestone_year, next_milestone_target_share, target_is_assumption, "
                   "next_milestone_text from province_progress")
    assert got[:3] == (2030, 0.9, True) and "绝大多数" in got[3]


# ---- basic balance (2012) --------------------------------------------------------------------


def test_basic_balance_composite_is_the_mean_of_eight(assess):
    rows = [school("1000000001", primary=300), school("1000000002", primary=200, books=200 * 60),
            school("1000000003", primary=100, computers=40)]
    con = assess(rows, county_rows=[county()])
    row = con.sql("select * from county_basic_balance where level = 'primary'").pl().row(0, named=True)
    cvs = [v for k, v in row.items() if k.startswith("cv_")]
    assert len(cvs) == 8 and row["indicators_with_cv"] == 8
    assert row["composite_cv"] == pytest.approx(sum(cvs) / 8, abs=1e-12)
    assert row["composite_threshold"] == 0.65 and row["composite_meets"] == (row["composite_cv"] <= 0.65)


def test_basic_balance_needs_all_eight(assess):
    con = assess([school("1000000001", primary=300, books=None), school("1000000002", primary=200, books=None)],
                 county_rows=[county()])
    got = one(con, "select indicators_with_cv, composite_cv, composite_meets from county_basic_balance")
    assert got == (7, None, None)
