-- 评估单元 (assessment units): one row per school section or teaching point, level and year.
--
-- Why sections: the assessment judges the primary and junior parts of a school separately.
-- A combined school (九年一贯制, 完全中学, 十二年一贯制) gives each section its own teachers,
-- as the statistics report them, and a share of the whole-school facilities in proportion
-- to enrolment × split weight (policy_split_weights), e.g. primary share = A / (A + 1.1·B).
-- Which schools enter is set per province in policy_province (see unit_exclusions.sql for
-- the ones left out and why).
-- Sums of shares are exact (fixed-point decimals): floating-point addition depends on the
-- order the rows arrive in, and an exact sum makes reruns give the same bits on any schedule.
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
    where (include_special_education or school_type <> '特殊教育学校')
      and (include_private or ownership <> '民办')
      and not (school_type = '小学教学点' and primary_students < teaching_point_min_students)
),

-- A teaching point at or above the cut is its own unit, unless the province merges it into
-- its parent school (and the parent is itself an eligible school of the same year).
assigned as (
    select
        e.*,
        case
            when e.school_type = '小学教学点' and e.merge_teaching_points_into_parent
                 and parent.school_id is not null
            then parent.school_id
            else e.school_id
        end as unit_school_id,
        (e.w_primary > 0)::int + (e.w_junior > 0)::int + (e.w_senior > 0)::int > 1 as is_combined
    from eligible e
    left join eligible parent
        on parent.school_id = e.parent_school_id and parent.school_type <> '小学教学点'
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
)

select
    year,
    province_code,
    any_value(province) as province,
    any_value(county_code) as county_code,
    any_value(county_name) as county_name,
    unit_school_id as school_id,
    coalesce(max(school_name) filter (where school_id = unit_school_id), max(school_name)) as school_name,
    coalesce(max(school_type) filter (where school_id = unit_school_id), max(school_type)) as school_type,
    coalesce(max(ownership) filter (where school_id = unit_school_id), max(ownership)) as ownership,
    coalesce(max(location) filter (where school_id = unit_school_id), max(location)) as location,
    level,
    case
        when bool_or(school_type = '小学教学点' and school_id = unit_school_id) then 'teaching_point'
        when bool_or(is_combined and school_id = unit_school_id) then 'section'
        else 'school'
    end as unit_kind,
    count(*) - 1 as merged_teaching_points,
    -- the share of its own school's facilities this section receives (1 for a one-level
    -- school): the plan divides a section's addition by it to say what the school must add
    max(facility_share) filter (where school_id = unit_school_id) as facility_share,
    sum(level_students)::bigint as students,
    sum(level_qualified_teachers)::double as qualified_teachers,
    sum(level_backbone_teachers)::double as backbone_teachers,
    sum(level_pe_arts_teachers)::double as pe_arts_teachers,
    sum((teaching_area_m2 * facility_share)::decimal(38, 12))::double as teaching_area_m2,
    sum((sports_area_m2 * facility_share)::decimal(38, 12))::double as sports_area_m2,
    sum((equipment_value_yuan * facility_share)::decimal(38, 12))::double as equipment_value_yuan,
    sum((multimedia_classrooms * facility_share)::decimal(38, 12))::double as multimedia_rooms,
    -- for basic balance (2012): section teachers as reported; books, computers and
    -- mid/senior-title teachers are whole-school figures, split like the facilities
    sum(level_teachers)::double as teachers,
    sum((books * facility_share)::decimal(38, 12))::double as books,
    sum((computers * facility_share)::decimal(38, 12))::double as computers,
    sum((teachers_mid_senior_title * facility_share)::decimal(38, 12))::double as mid_senior_title_teachers
from sections
group by year, province_code, unit_school_id, level
