-- The seven resource indicators of every unit, in long form (one row per unit × indicator),
-- with the threshold in force for its province and level. Both school_indicators and
-- county_cv read this, so each indicator is defined once, here.
--
-- Students are > 0 for every unit (a section with no students is not a unit), so the
-- ratios are defined whenever their inputs are.
with wide as (
    select
        year, province_code, province, county_code, county_name, school_id, school_name,
        school_type, ownership, location, level, unit_kind, students,
        100.0 * qualified_teachers / students as qualified_teachers_per100,
        100.0 * backbone_teachers / students as backbone_teachers_per100,
        100.0 * pe_arts_teachers / students as pe_arts_teachers_per100,
        teaching_area_m2 / students as teaching_area_per_student,
        sports_area_m2 / students as sports_area_per_student,
        equipment_value_yuan / students as equipment_value_per_student,
        100.0 * multimedia_rooms / students as multimedia_rooms_per100
    from school_units
    where year = getvariable('run_year')
),

-- One row per unit × indicator: a cross join with the indicator list (dim_indicators).
long as (
    select
        w.* exclude (
            qualified_teachers_per100, backbone_teachers_per100, pe_arts_teachers_per100,
            teaching_area_per_student, sports_area_per_student, equipment_value_per_student,
            multimedia_rooms_per100
        ),
        d.indicator,
        case d.indicator
            when 'qualified_teachers_per100' then w.qualified_teachers_per100
            when 'backbone_teachers_per100' then w.backbone_teachers_per100
            when 'pe_arts_teachers_per100' then w.pe_arts_teachers_per100
            when 'teaching_area_per_student' then w.teaching_area_per_student
            when 'sports_area_per_student' then w.sports_area_per_student
            when 'equipment_value_per_student' then w.equipment_value_per_student
            when 'multimedia_rooms_per100' then w.multimedia_rooms_per100
        end as value
    from wide w
    cross join dim_indicators d
)

select
    l.*,
    t.threshold,
    t.threshold_rule,
    l.value / t.threshold as share_of_threshold,
    -- "以上" means the threshold itself passes; the tolerance only absorbs binary rounding.
    l.value >= t.threshold * (1 - p.relative_tolerance) as meets,
    l.value >= p.floor_share * t.threshold * (1 - p.relative_tolerance) as above_floor
from long l
join policy_level_thresholds t
    on t.province_code = l.province_code and t.level = l.level and t.indicator = l.indicator
join policy_province p on p.province_code = l.province_code
