-- Every indicator of every unit, one row per unit and one column per indicator (named by its
-- code): the seven resource indicators of 优质均衡 (quality_2017) and the eight of 基本均衡
-- (basic_2012), four of which they share. Each indicator's formula is written here once;
-- school_indicators and county_variation read the columns (dim_indicators says which
-- indicator belongs to which method).
--
-- Students are > 0 for every unit (a section with no students is not a unit), so a ratio is
-- defined whenever its input is; a missing input gives null.
--
-- A view (see the registry): eleven divisions are cheaper to redo than to store, and every
-- reader filters on the year itself.
select
    year, province_code, county_code, school_id, level, students,
    100.0 * qualified_teachers / students as qualified_teachers_per100,
    100.0 * backbone_teachers / students as backbone_teachers_per100,
    100.0 * pe_arts_teachers / students as pe_arts_teachers_per100,
    teaching_area_m2 / students as teaching_area_per_student,
    sports_area_m2 / students as sports_area_per_student,
    equipment_value_yuan / students as equipment_value_per_student,
    100.0 * multimedia_rooms / students as multimedia_rooms_per100,
    100.0 * computers / students as computers_per100,
    books / students as books_per_student,
    100.0 * teachers / students as teachers_per100,
    100.0 * mid_senior_title_teachers / students as mid_senior_title_teachers_per100
from school_units
