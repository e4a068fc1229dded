"""Assessment units: sections, the facility split, exclusions and switches."""

import pytest

from conftest import one, school
from junheng.policy import Policy


def test_published_split_nine_year_school(assess):
    # 166 primary, 210 junior, a facility of 23,226 → about 9,711 primary and 13,515 junior.
    row = school("1000000001", "九年一贯制学校", primary=166, junior=210, equipment_value_10k_yuan=2.3226)
    con = assess([row])
    split = dict(con.sql("select level, equipment_value_yuan from school_units").fetchall())
    assert split["primary"] == pytest.approx(23226 * 166 / (166 + 1.1 * 210), rel=1e-12)
    assert abs(split["primary"] - 9711) < 1 and abs(split["junior"] - 13515) < 1
    assert split["primary"] + split["junior"] == pytest.approx(23226)
    kinds = set(r[0] for r in con.sql("select unit_kind from school_units").fetchall())
    assert kinds == {"section"}


def test_complete_middle_school_gives_senior_its_share(assess):
    row = school("1000000001", "完全中学", junior=300, senior=500, multimedia_classrooms=50)
    con = assess([row])
    rooms = one(con, "select multimedia_rooms from school_units where level = 'junior'")
    assert rooms == pytest.approx(50 * 300 / (300 + 1.2 * 500))
    assert one(con, "select count(*) from school_units") == 1  # senior is not assessed


def test_twelve_year_school_three_way_split(assess):
    row = school("1000000001", "十二年一贯制学校", primary=100, junior=100, senior=100, teaching_aux_area_m2=3420.0)
    con = assess([row])
    split = dict(con.sql("select level, teaching_area_m2 from school_units").fetchall())
    total = 100 + 110 + 132
    assert split["primary"] == pytest.approx(3420 * 100 / total)
    assert split["junior"] == pytest.approx(3420 * 110 / total)


def test_section_takes_its_own_teachers(assess):
    row = school("1000000001", "九年一贯制学校", primary=200, junior=100,
                 primary_teachers_above_qual=10, junior_teachers_above_qual=7)
    con = assess([row])
    values = dict(con.sql("select level, qualified_teachers_per100 from school_indicators").fetchall())
    assert values == {"primary": pytest.approx(5.0), "junior": pytest.approx(7.0)}


def test_indoor_sports_moved_from_teaching_to_sports_area(assess):
    row = school("1000000001", primary=100, teaching_aux_area_m2=1000.0, indoor_sports_area_m2=200.0,
                 sports_ground_area_m2=900.0)
    con = assess([row])
    teaching, sports = one(con, "select teaching_area_per_student, sports_area_per_student from school_indicators")
    assert teaching == pytest.approx(8.0) and sports == pytest.approx(11.0)


def test_indoor_sports_switch_off(assess, tmp_path):
    policy = Policy.load()
    policy.national["units"]["move_indoor_sports_to_sports_area"] = False
    row = school("1000000001", primary=100, teaching_aux_area_m2=1000.0, indoor_sports_area_m2=200.0,
                 sports_ground_area_m2=900.0)
    con = assess([row], policy)
    teaching, sports = one(con, "select teaching_area_per_student, sports_area_per_student from school_indicators")
    assert teaching == pytest.approx(10.0) and sports == pytest.approx(9.0)


def test_special_education_excluded(assess):
    con = assess([school("1000000001", primary=100), school("1000000002", "特殊教育学校", primary=40, junior=20)])
    assert one(con, "select count(*) from school_units where school_id = '1000000002'") == 0
    assert one(con, "select reason from unit_exclusions") == "special_education"


def test_teaching_point_cut_at_50(assess):
    rows = [
        school("1000000001", primary=300),
        school("1000000002", "小学教学点", primary=49, parent_school_id="1000000001", location="乡村"),
        school("1000000003", "小学教学点", primary=50, parent_school_id="1000000001", location="乡村"),
    ]
    con = assess(rows)
    units = dict(con.sql("select school_id, unit_kind from school_units").fetchall())
    assert units == {"1000000001": "school", "1000000003": "teaching_point"}
    assert one(con, "select school_id, reason from unit_exclusions") == ("1000000002", "teaching_point_below_cut")


def merging_points() -> Policy:
    """The national policy with teaching points merged into their parent school."""
    policy = Policy.load()
    policy.national["units"]["merge_teaching_points_into_parent"] = True
    return policy


def test_teaching_point_merged_into_parent_when_switched(assess):
    policy = merging_points()
    rows = [
        school("1000000001", primary=300, equipment_value_10k_yuan=30.0),
        school("1000000003", "小学教学点", primary=60, parent_school_id="1000000001", location="乡村",
               equipment_value_10k_yuan=1.2),
    ]
    con = assess(rows, policy)
    assert one(con, "select school_id, students, equipment_value_yuan from school_units") == (
        "1000000001", 360, pytest.approx(312000.0))
    assert one(con, "select reason from unit_exclusions") == "merged_into_parent"


def test_school_taking_in_teaching_points_sums_exactly_in_any_row_order(assess):
    """Two points into a primary school (sums of three rows), and a junior school whose only
    primary rows are its point's: that unit keeps the point's name and counts as a school."""
    policy = merging_points()
    rows = [
        school("1000000001", primary=300, teaching_aux_area_m2=1350.1),
        school("1000000002", "小学教学点", primary=60, parent_school_id="1000000001", location="乡村",
               teaching_aux_area_m2=270.2),
        school("1000000003", "小学教学点", primary=70, parent_school_id="1000000001", location="乡村",
               teaching_aux_area_m2=315.3),
        school("1000000004", "初级中学", junior=400),
        school("1000000005", "小学教学点", primary=55, parent_school_id="1000000004", location="乡村",
               teaching_aux_area_m2=250.7),
    ]
    query = ("select school_id, level, school_name, unit_kind, merged_teaching_points, students, teaching_area_m2 "
             "from school_units order by school_id, level")
    forward = assess(rows, policy).sql(query).fetchall()
    assert assess(rows[::-1], policy).sql(query).fetchall() == forward  # the same bits
    indoor = rows[0]["indoor_sports_area_m2"]  # moved to sports by default; one value for every row here
    assert all(r["indoor_sports_area_m2"] == indoor for r in rows)
    assert forward == [
        ("1000000001", "primary", "学校1000000001", "school", 2, 430,
         pytest.approx(1350.1 + 270.2 + 315.3 - 3 * indoor, rel=1e-12)),
        ("1000000004", "junior", "学校1000000004", "school", 0, 400, pytest.approx(rows[3]["teaching_aux_area_m2"] - indoor)),
        ("1000000004", "primary", "学校1000000005", "school", 0, 55, pytest.approx(250.7 - indoor, rel=1e-12)),
    ]


def test_private_schools_included_by_default_and_switchable(assess):
    rows = [school("1000000001", primary=300), school("1000000002", primary=200, ownership="民办")]
    assert one(assess(rows), "select count(*) from school_units") == 2
    policy = Policy.load()
    policy.national["units"]["include_private"] = False
    con = assess(rows, policy)
    assert one(con, "select school_id from school_units") == "1000000001"
    assert one(con, "select reason from unit_exclusions") == "private_excluded"


def test_level_without_students_is_not_a_unit(assess):
    con = assess([school("1000000001", "九年一贯制学校", primary=200, junior=0, junior_teachers=0,
                         junior_teachers_above_qual=0, junior_backbone_teachers=0, junior_pe_arts_teachers=0)])
    assert con.sql("select level from school_units").fetchall() == [("primary",)]
    # the whole facility goes to the only section with students
    assert one(con, "select equipment_value_yuan from school_units") == pytest.approx(200 * 0.3 * 10000)
