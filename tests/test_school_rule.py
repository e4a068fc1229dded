"""The school rule: at least 6 of 7 and the 85% floor, at and just below the edge."""

import pytest

from conftest import YEAR, one, school
from junheng import warehouse
from junheng.policy import Policy

# Teaching area threshold for primary is 4.5 m²/student; 85% of it is 3.825.
STUDENTS = 200


def unit_with_teaching_area(area_m2: float, **over):
    return school("1000000001", primary=STUDENTS, teaching_aux_area_m2=area_m2, indoor_sports_area_m2=0.0, **over)


def verdict(con):
    return one(con, "select indicators_met, meets_school_standard, teaching_area_per_student from school_indicators")


def test_all_seven_met(assess):
    met, ok, _ = verdict(assess([unit_with_teaching_area(STUDENTS * 4.5)]))
    assert (met, ok) == (7, True)


def test_threshold_itself_passes(assess):
    met, ok, value = verdict(assess([unit_with_teaching_area(STUDENTS * 4.5)]))
    assert value == pytest.approx(4.5) and met == 7


def test_one_missing_at_exactly_85_percent_passes(assess):
    met, ok, value = verdict(assess([unit_with_teaching_area(765.0)]))  # 765 / 200 = 3.825 = 0.85 × 4.5
    assert value == pytest.approx(3.825)
    assert (met, ok) == (6, True)


def test_one_missing_just_below_85_percent_fails(assess):
    met, ok, _ = verdict(assess([unit_with_teaching_area(764.8)]))  # 3.824
    assert (met, ok) == (6, False)


def test_two_missing_fails_even_above_floor(assess):
    row = unit_with_teaching_area(800.0, sports_ground_area_m2=STUDENTS * 7.0)  # 4.0 and 7.0: both above 85%
    met, ok, _ = verdict(assess([row]))
    assert (met, ok) == (5, False)


def test_floor_and_count_are_policy_numbers(assess):
    policy = Policy.load()
    policy.national["resource"]["school_rule"]["floor_share"] = 0.80
    met, ok, _ = verdict(assess([unit_with_teaching_area(STUDENTS * 3.7)], policy))  # 3.7/4.5 = 0.822
    assert (met, ok) == (6, True)


def test_junior_thresholds_apply_to_junior_sections(assess):
    # 5.3 qualified teachers per 100 junior students: 53 of 1000 passes, 52 misses.
    con = assess([
        school("1000000001", "初级中学", junior=1000, junior_teachers_above_qual=53),
        school("1000000002", "初级中学", junior=1000, junior_teachers_above_qual=52),
    ])
    met = dict(con.sql("select school_id, indicators_met from school_indicators").fetchall())
    assert met == {"1000000001": 7, "1000000002": 6}


def test_an_indicator_without_a_threshold_leaves_the_rule_undecided(assess):
    # Take the multimedia-room threshold away: that indicator cannot be judged. The six others
    # still count (teaching area at 85% misses), the lowest share is taken over those six, and
    # whether the school meets the standard cannot be said.
    con = assess([unit_with_teaching_area(765.0)])
    warehouse.replace_table(con, "policy_level_thresholds", con.sql(
        "select * from policy_level_thresholds where indicator <> 'multimedia_rooms_per100'").pl())
    warehouse.run_model(con, "school_indicators", YEAR)
    met, ok, lowest = one(con, "select indicators_met, meets_school_standard, lowest_share_of_threshold "
                               "from school_indicators")
    assert ok is None and met == 5
    assert lowest == pytest.approx(0.85)


def test_a_unit_without_its_provinces_policy_is_kept_undecided(assess):
    # Without the province's rule settings (tolerance, floor, how many must be met) no indicator
    # can be judged: the unit keeps its row, none met, the verdict undecided.
    con = assess([unit_with_teaching_area(STUDENTS * 4.5)])
    warehouse.replace_table(con, "policy_province", con.sql("select * from policy_province where false").pl())
    warehouse.run_model(con, "school_indicators", YEAR)
    assert one(con, "select count(*), any_value(indicators_met), any_value(meets_school_standard) "
                    "from school_indicators") == (1, 0, None)


def test_every_indicator_below_its_floor_is_counted(assess):
    # Teaching area at 50% and sports area at 50%: two indicators missed, the floor broken twice.
    row = unit_with_teaching_area(STUDENTS * 2.25, sports_ground_area_m2=STUDENTS * 3.75)
    met, ok, lowest = one(assess([row]), "select indicators_met, meets_school_standard, lowest_share_of_threshold "
                                         "from school_indicators")
    assert (met, ok) == (5, False) and lowest == pytest.approx(0.5)
