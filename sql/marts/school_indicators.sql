-- school_indicators: one row per unit, its seven indicators and the school rule.
--
-- School rule (学校达标): at least min_indicators_met (6) of the seven meet their threshold
-- and none is below floor_share (85%) of its threshold. Undecidable (null) when any of
-- the seven is undefined.
with rule as (
    select
        v.year, v.school_id, v.level,
        max(v.value) filter (where v.indicator = 'qualified_teachers_per100') as qualified_teachers_per100,
        max(v.value) filter (where v.indicator = 'backbone_teachers_per100') as backbone_teachers_per100,
        max(v.value) filter (where v.indicator = 'pe_arts_teachers_per100') as pe_arts_teachers_per100,
        max(v.value) filter (where v.indicator = 'teaching_area_per_student') as teaching_area_per_student,
        max(v.value) filter (where v.indicator = 'sports_area_per_student') as sports_area_per_student,
        max(v.value) filter (where v.indicator = 'equipment_value_per_student') as equipment_value_per_student,
        max(v.value) filter (where v.indicator = 'multimedia_rooms_per100') as multimedia_rooms_per100,
        count(*) filter (where v.meets)::int as indicators_met,
        min(v.share_of_threshold) as lowest_share_of_threshold,
        case
            when count(v.value) < count(*) then null
            else count(*) filter (where v.meets) >= any_value(p.min_indicators_met) and bool_and(v.above_floor)
        end as meets_school_standard
    from unit_indicator_values v
    join policy_province p on p.province_code = v.province_code
    where v.year = getvariable('run_year') and v.method = 'quality_2017'
    group by v.year, v.school_id, v.level
)

select
    u.year, u.province, u.province_code, u.county_code, u.county_name, u.school_id, u.school_name,
    u.school_type, u.ownership, u.location, u.level, u.unit_kind, u.students,
    r.* exclude (year, school_id, level)
from school_units u
join rule r using (year, school_id, level)
where u.year = getvariable('run_year')
