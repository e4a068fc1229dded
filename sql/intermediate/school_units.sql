-- 评估单元 (assessment units): one row per school section or teaching point, level and year.
--
-- Why sections: the assessment judges the primary and junior parts of a school separately.
-- A combined school (九年一贯制, 完全中学, 十二年一贯制) gives each section its own teachers,
-- as the statistics report them, and a share of the whole-school facilities in proportion
-- to enrolment × split weight (policy_split_weights), e.g. primary share = A / (A + 1.1·B).
-- Which schools enter is set per province in policy_province (see unit_exclusions.sql for
-- the ones left out and why).
-- A unit is one row, except a school that takes in teaching points: those sums are exact
-- (fixed-point decimals), since floating-point addition depends on the order the rows arrive
-- in and an exact sum makes reruns give the same bits on any schedule. Only those few units
-- are summed; every other unit is its row as it is (a grouping over all of them costs twice
-- the rest of this model).
with schools as (
    select
        s.*,
        p.* exclude (province_code),
        coalesce(w.weight_primary, 0) as w_primary,
        coalesce(w.weight_junior, 0) as w_junior,
        coalesce(w.weight_senior, 0) as w_senior
    from stg_schools s
    join policy_province p on p.province_code = s.province_code
    left join policy_split_weights w
        on w.province_code = s.province_code and w.school_type = s.school_type
    where s.year = getvariable('run_year')
),

eligible as (
    select * from schools
    where (include_special_education or school_type <> '{{ special_education }}')
      and (include_private or ownership <> '{{ private_ownership }}')
      and not (school_type = '{{ teaching_point }}' and primary_students < teaching_point_min_students)
),

-- A teaching point at or above the cut is its own unit, unless the province merges it into
-- its parent school (and the parent is itself an eligible school of the same year).
assigned as (
    select
        e.*,
        case
            when e.school_type = '{{ teaching_point }}' and e.merge_teaching_points_into_parent
                 and parent.school_id is not null
            then parent.school_id
            else e.school_id
        end as unit_school_id,
        (e.w_primary > 0)::int + (e.w_junior > 0)::int + (e.w_senior > 0)::int > 1 as is_combined
    from eligible e
    left join eligible parent
        on parent.school_id = e.parent_school_id and parent.school_type <> '{{ teaching_point }}'
),

facilities as (
    select
        *,
        w_primary * primary_students + w_junior * junior_students + w_senior * senior_students
            as weighted_enrolment,
        teaching_aux_area_m2
            - case when move_indoor_sports_to_sports_area then indoor_sports_area_m2 else 0 end
            as teaching_area_m2,
        sports_ground_area_m2
            + case when move_indoor_sports_to_sports_area then indoor_sports_area_m2 else 0 end
            as sports_area_m2,
        equipment_value_10k_yuan * equipment_value_multiplier as equipment_value_yuan
    from assigned
),

sections as (
    select
        *,
        'primary' as level,
        primary_students as level_students,
        primary_teachers_above_qual as level_qualified_teachers,
        primary_backbone_teachers as level_backbone_teachers,
        primary_pe_arts_teachers as level_pe_arts_teachers,
        primary_teachers as level_teachers,
        w_primary * primary_students / nullif(weighted_enrolment, 0) as facility_share
    from facilities
    where primary_students > 0
    union all
    select
        *,
        'junior' as level,
        junior_students,
        junior_teachers_above_qual,
        junior_backbone_teachers,
        junior_pe_arts_teachers,
        junior_teachers,
        w_junior * junior_students / nullif(weighted_enrolment, 0)
    from facilities
    where junior_students > 0
),

-- what each row brings to its unit
contributions as (
    select
        year, province_code, province, county_code, county_name, unit_school_id, level,
        school_id = unit_school_id as own,
        school_name, school_type, ownership, location,
        case when school_type = '{{ teaching_point }}' then 'teaching_point' when is_combined then 'section' else 'school' end
            as unit_kind,
        -- the share of its own school's facilities this section receives (1 for a one-level
        -- school): the plan divides a section's addition by it to say what the school must add
        facility_share,
        level_students as students,
        level_qualified_teachers as qualified_teachers,
        level_backbone_teachers as backbone_teachers,
        level_pe_arts_teachers as pe_arts_teachers,
        (teaching_area_m2 * facility_share) as teaching_area_m2,
        (sports_area_m2 * facility_share) as sports_area_m2,
        (equipment_value_yuan * facility_share) as equipment_value_yuan,
        (multimedia_classrooms * facility_share) as multimedia_rooms,
        -- for basic balance (2012): section teachers as reported; books, computers and
        -- mid/senior-title teachers are whole-school figures, split like the facilities
        level_teachers as teachers,
        (books * facility_share) as books,
        (computers * facility_share) as computers,
        (teachers_mid_senior_title * facility_share) as mid_senior_title_teachers
    from sections
),

-- units that took in teaching points: the only ones made of more than one row
absorbing as (
    select distinct unit_school_id, level from contributions where not own
),

units as (
    -- nearly every unit is one row, taken as it is
    select * exclude (own, unit_school_id), unit_school_id as school_id, 0 as merged_teaching_points
    from contributions anti join absorbing using (unit_school_id, level)
    union all by name
    -- a school and the teaching points it took in, summed exactly; names and kind are the
    -- school's own (the points' when the school has no row of that level). Back to doubles here:
    -- a union with decimals would turn every other unit's figures into decimals and back
    select
        year, province_code, any_value(province) as province, any_value(county_code) as county_code,
        any_value(county_name) as county_name, unit_school_id as school_id,
        coalesce(max(school_name) filter (where own), max(school_name)) as school_name,
        coalesce(max(school_type) filter (where own), max(school_type)) as school_type,
        coalesce(max(ownership) filter (where own), max(ownership)) as ownership,
        coalesce(max(location) filter (where own), max(location)) as location,
        level,
        coalesce(max(unit_kind) filter (where own), 'school') as unit_kind,
        count(*) - 1 as merged_teaching_points,
        max(facility_share) filter (where own) as facility_share,
        sum(columns(['students', 'qualified_teachers', 'backbone_teachers', 'pe_arts_teachers',
                     'teaching_area_m2', 'sports_area_m2', 'equipment_value_yuan', 'multimedia_rooms',
                     'teachers', 'books', 'computers', 'mid_senior_title_teachers'])::decimal(38, 12))::double
    from contributions semi join absorbing using (unit_school_id, level)
    group by year, province_code, unit_school_id, level
)

select
    year, province_code, province, county_code, county_name, school_id, school_name, school_type, ownership,
    location, level, unit_kind, merged_teaching_points, facility_share,
    students::bigint as students,
    columns(['qualified_teachers', 'backbone_teachers', 'pe_arts_teachers', 'teaching_area_m2', 'sports_area_m2',
             'equipment_value_yuan', 'multimedia_rooms', 'teachers', 'books', 'computers',
             'mid_senior_title_teachers'])::double
from units
