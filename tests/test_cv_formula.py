"""The variation coefficient against the published worked example and its edge cases."""

import math

import pytest

from conftest import one, school

STUDENTS = [45, 37, 89, 76, 55]
BOOKS = [279, 137, 935, 160, 402]


def published_example_rows():
    # The published example uses books; the equipment indicator is scale-free the same way,
    # so equipment value (万元) = books gives the same CV and X̄ × 10,000 yuan.
    return [
        school(f"10000000{i}", primary=p, equipment_value_10k_yuan=b)
        for i, (p, b) in enumerate(zip(STUDENTS, BOOKS))
    ]


def test_published_worked_example(assess):
    con = assess(published_example_rows())
    value, cv, rounded, units = one(con, """
        select county_value, cv, cv_rounded, units from county_cv
        where level = 'primary' and indicator = 'equipment_value_per_student'""")
    assert units == 5
    assert value == pytest.approx(6.3344 * 10000, abs=0.5)          # X̄ = Σ books / Σ students
    assert cv == pytest.approx(0.515257, abs=5e-7)
    assert rounded == 0.515                                          # published as 0.52 (2 d.p.)
    assert round(cv, 2) == 0.52


def test_hand_computed_cv_matches_definition(assess):
    """Independent computation of the population, enrolment-weighted form."""
    con = assess(published_example_rows())
    x = [b / p for b, p in zip(BOOKS, STUDENTS)]
    total = sum(STUDENTS)
    xbar = sum(BOOKS) / total
    s = math.sqrt(sum(p / total * (xi - xbar) ** 2 for p, xi in zip(STUDENTS, x)))
    cv = one(con, "select cv from county_cv where indicator = 'equipment_value_per_student' and level = 'primary'")
    assert cv == pytest.approx(s / xbar, rel=1e-12)
    # The unweighted forms give other numbers: make sure we are not computing either.
    mean = sum(x) / len(x)
    unweighted_pop = math.sqrt(sum((xi - mean) ** 2 for xi in x) / len(x)) / mean
    unweighted_sample = math.sqrt(sum((xi - mean) ** 2 for xi in x) / (len(x) - 1)) / mean
    assert abs(cv - unweighted_pop) > 0.02 and abs(cv - unweighted_sample) > 0.02


def test_threshold_verdict_and_near_flag(assess):
    con = assess(published_example_rows())
    meets, threshold, near = one(con, """
        select cv_meets, cv_threshold, near_threshold from county_cv
        where indicator = 'equipment_value_per_student' and level = 'primary'""")
    assert threshold == 0.50 and meets is False and near is False


def test_single_unit_county_has_cv_zero(assess):
    con = assess([school("1000000001", primary=300)])
    cvs = con.sql("select distinct cv from county_cv").fetchall()
    assert cvs == [(0.0,)]
    assert one(con, "select bool_and(cv_meets) from county_cv") is True


def test_zero_county_value_is_undefined_not_an_error(assess):
    rows = [school(f"100000000{i}", primary=100 + i, multimedia_classrooms=0) for i in range(3)]
    con = assess(rows)
    cv, reason, meets, value = one(con, """
        select cv, cv_undefined_reason, cv_meets, county_value from county_cv
        where indicator = 'multimedia_rooms_per100'""")
    assert value == 0 and cv is None and meets is None and reason == "county_value_zero"


def test_cv_per_level_and_county_separately(assess):
    rows = [
        school("1000000001", primary=100),
        school("1000000002", primary=300, teaching_aux_area_m2=300 * 4.0),
        school("1000000003", "初级中学", junior=200),
        school("1000000004", primary=100, county="520103"),
    ]
    con = assess(rows)
    counts = con.sql("select county_code, level, count(*), max(units) from county_cv group by all order by all").fetchall()
    assert counts == [("520102", "junior", 7, 1), ("520102", "primary", 7, 2), ("520103", "primary", 7, 1)]
    # teaching area: x = 8 and 4 for 100 and 300 students → X̄ = 2000/400 = 5
    # S = sqrt(0.25·9 + 0.75·1) = sqrt(3) → CV = sqrt(3)/5
    cv = one(con, """select cv from county_cv where county_code = '520102' and level = 'primary'
                     and indicator = 'teaching_area_per_student'""")
    assert cv == pytest.approx(math.sqrt(3) / 5, rel=1e-12)


def test_units_at_one_value_give_cv_exactly_zero(assess):
    """Two units at the same per-student value: Σ P·x² − X̄·Σ P·x is zero up to the doubles'
    rounding, and the CV is 0, not a trace of that rounding."""
    # (enrolments for which the two double sums do not cancel exactly: the difference left is
    # 6e-16 of Σ P·x²)
    students = (881, 2031)
    rows = [school(f"100000000{i}", primary=p, teaching_aux_area_m2=p * 65.19) for i, p in enumerate(students)]
    con = assess(rows)
    cv, units = one(con, """select cv, units from county_cv
                            where level = 'primary' and indicator = 'teaching_area_per_student'""")
    assert units == 2 and cv == 0.0


def test_small_cv_against_exact_arithmetic(assess):
    """A CV of about 0.01, far under any ceiling (near-equal units, uneven enrolments), against
    the definition in exact rational arithmetic: the one-pass sums keep it to 1e-11 of its value."""
    from fractions import Fraction

    students = [1234, 57, 880, 93, 415, 2000]
    areas = [p * (6.0 + 0.017 * k) for k, p in enumerate(students)]    # 万元: x = 60,000 yuan + a little
    con = assess([school(f"10000000{i:02d}", primary=p, equipment_value_10k_yuan=a)
                  for i, (p, a) in enumerate(zip(students, areas))])
    cv = one(con, "select cv from county_cv where level = 'primary' and indicator = 'equipment_value_per_student'")
    x = [Fraction(a) * 10000 / p for a, p in zip(areas, students)]
    total = sum(students)
    xbar = sum(Fraction(p) * xi for p, xi in zip(students, x)) / total
    variance = sum(Fraction(p, total) * (xi - xbar) ** 2 for p, xi in zip(students, x))
    exact = math.sqrt(variance) / float(xbar)
    assert 0.005 < exact < 0.02
    assert cv == pytest.approx(exact, rel=1e-11)


def test_cv_sums_do_not_depend_on_row_order(assess):
    """The sums behind a CV are exact, so the same units read in another order give the same
    bits. Summed as doubles, these 400 uneven values in reverse order differ in their last bits
    (tried)."""
    import random

    from junheng import warehouse

    rng = random.Random(7)
    students = [rng.randint(20, 3000) for _ in range(400)]
    con = assess([school(f"1{i:09d}", primary=p, equipment_value_10k_yuan=rng.uniform(1, 900),
                         teaching_aux_area_m2=p * rng.uniform(3, 12)) for i, p in enumerate(students)])
    query = "select level, method, indicator, students, units, county_value, cv from county_variation order by all"
    forward = con.sql(query).fetchall()
    assert len(forward) > 5 and max(r[4] for r in forward) == 400
    year = one(con, "select distinct year from school_units")
    con.sql("create table reordered as select * from unit_indicators order by school_id desc")
    con.sql("drop view unit_indicators")
    con.sql("alter table reordered rename to unit_indicators")
    warehouse.run_model(con, "county_variation", year)
    assert con.sql(query).fetchall() == forward
