-- school_indicators: one row per unit, its seven indicators and the school rule.
--
-- School rule (学校达标): at least min_indicators_met (6) of the seven meet their threshold
-- and none is below floor_share (85%) of its threshold. Undecidable (null) when any of
-- the seven is undefined. "以上" means the threshold itself passes; the relative tolerance only
-- absorbs binary rounding (85% × 4.2 must not fail by a last bit).
with u as (
    select * from unit_indicators where year = getvariable('run_year')
),

judged as (
    -- one row per unit and quality indicator: the thresholds table holds exactly those
    select v.school_id, v.level, v.value, t.threshold,
           v.value >= t.threshold * (1 - p.relative_tolerance) as meets,
           v.value >= p.floor_share * t.threshold * (1 - p.relative_tolerance) as above_floor,
           p.min_indicators_met
    from (unpivot u on columns(* exclude (year, province_code, county_code, school_id, level, students))
          into name indicator value value) v
    join policy_level_thresholds t
        on t.province_code = v.province_code and t.level = v.level and t.indicator = v.indicator
    join policy_province p on p.province_code = v.province_code
),

rule as (
    select
        school_id, level,
        count(*) filter (where meets)::int as indicators_met,
        min(value / threshold) as lowest_share_of_threshold,
        -- a null value is dropped by unpivot: fewer than seven rows means undecidable
        case
            when count(*) < (select count(distinct indicator) from policy_level_thresholds) then null
            else count(*) filter (where meets) >= any_value(min_indicators_met) and bool_and(above_floor)
        end as meets_school_standard
    from judged
    group by all
)

select
    s.year, s.province, s.province_code, s.county_code, s.county_name, s.school_id, s.school_name,
    s.school_type, s.ownership, s.location, s.level, s.unit_kind, s.students,
    u.qualified_teachers_per100, u.backbone_teachers_per100, u.pe_arts_teachers_per100,
    u.teaching_area_per_student, u.sports_area_per_student, u.equipment_value_per_student,
    u.multimedia_rooms_per100,
    coalesce(r.indicators_met, 0) as indicators_met, r.lowest_share_of_threshold, r.meets_school_standard
from school_units s
join u using (year, school_id, level)
left join rule r using (school_id, level)
where s.year = getvariable('run_year')
