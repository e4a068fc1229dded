-- Every indicator of every unit, in long form (one row per unit × method × indicator):
--   method quality_2017: the seven resource indicators of 优质均衡, with the threshold in force
--   method basic_2012:   the eight indicators of 基本均衡 (no per-school threshold)
-- school_indicators, county_variation and everything after them read this, so each
-- indicator is defined once, here. Only keys and numbers are kept: the unit's names and
-- types are in school_units.
--
-- Students are > 0 for every unit (a section with no students is not a unit), so the
-- ratios are defined whenever their inputs are.
with u as (
    select * from school_units where year = getvariable('run_year')
),

values_long as (
    select
        u.year, u.province_code, u.county_code, u.school_id, u.level, u.students,
        d.method, d.indicator,
        case d.indicator
            when 'qualified_teachers_per100' then 100.0 * u.qualified_teachers / u.students
            when 'backbone_teachers_per100' then 100.0 * u.backbone_teachers / u.students
            when 'pe_arts_teachers_per100' then 100.0 * u.pe_arts_teachers / u.students
            when 'teaching_area_per_student' then u.teaching_area_m2 / u.students
            when 'sports_area_per_student' then u.sports_area_m2 / u.students
            when 'equipment_value_per_student' then u.equipment_value_yuan / u.students
            when 'multimedia_rooms_per100' then 100.0 * u.multimedia_rooms / u.students
            when 'computers_per100' then 100.0 * u.computers / u.students
            when 'books_per_student' then u.books / u.students
            when 'teachers_per100' then 100.0 * u.teachers / u.students
            when 'mid_senior_title_teachers_per100' then 100.0 * u.mid_senior_title_teachers / u.students
        end as value
    from u
    cross join dim_indicators d
)

select
    l.*,
    t.threshold,
    l.value / t.threshold as share_of_threshold,
    -- "以上" means the threshold itself passes; the tolerance only absorbs binary rounding.
    l.value >= t.threshold * (1 - p.relative_tolerance) as meets,
    l.value >= p.floor_share * t.threshold * (1 - p.relative_tolerance) as above_floor
from values_long l
join policy_province p on p.province_code = l.province_code
left join policy_level_thresholds t
    on l.method = 'quality_2017'
    and t.province_code = l.province_code and t.level = l.level and t.indicator = l.indicator
