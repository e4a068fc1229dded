-- unit_gaps (差距): for every unit and each of the seven, how much must be added to reach the
-- threshold, and separately to reach the floor (85% of it, the most the school rule lets one
-- indicator miss by), in the indicator's own unit: whole teachers, m², yuan, whole rooms.
--
--   need  = threshold × students / per      (per = 100 for "per 100 students", else 1)
--   add   = need − what the unit has, 0 when already met
--
-- "Met" uses the same relative tolerance as the school rule, so a unit the assessment passes
-- never shows a gap. Teachers and rooms round up to whole ones; m² and yuan up to 0.01.
-- For a section of a combined school the amounts are the section's own; unit_plan says what
-- the whole school adds (facilities are shared between sections).
--
-- A view (see the registry): seven rows a unit are cheaper to compute when published than to
-- store, and nothing else reads them; every reader filters the year.
with units as (
    select * from school_units
),

resources as (
    unpivot (select year, province, province_code, county_code, county_name, school_id, school_name,
                    level, students, {{ resources | map(attribute="column") | join(", ") }}
             from units)
    on {{ resources | map(attribute="column") | join(", ") }}
    into name resource value amount
),

-- per province, level and resource, its indicator and standard: a few hundred rows, joined
-- first so the units meet one small table
standards as (
    select
        c.province_code, t.level, c.resource, c.indicator, c.per, c.whole_at, c.add_unit, c.add_unit_zh,
        t.threshold, p.floor_share, p.relative_tolerance
    from policy_plan_costs c
    join policy_level_thresholds t on t.province_code = c.province_code and t.indicator = c.indicator
    join policy_province p on p.province_code = c.province_code
),

needs as (
    select
        r.*, s.* exclude (province_code, level, resource),
        s.threshold * r.students / s.per as need_threshold,
        s.floor_share * s.threshold * r.students / s.per as need_floor
    from resources r
    join standards s using (province_code, level, resource)
),

gaps as (
    select
        *,
        case when amount >= need_threshold * (1 - relative_tolerance) then 0.0
             else need_threshold - amount end as raw_to_threshold,
        case when amount >= need_floor * (1 - relative_tolerance) then 0.0
             else need_floor - amount end as raw_to_floor
    from needs
)

select
    year, province, province_code, county_code, county_name, school_id, school_name, level, students,
    indicator,
    per * amount / students as value,
    threshold,
    floor_share * threshold as floor_value,
    amount as current_amount,
    -- the tolerance keeps 2.0000000001 teachers from becoming 3
    greatest(0, case when whole_at is not null then ceil(raw_to_threshold - relative_tolerance * need_threshold)
                     else ceil(round(raw_to_threshold * 100, 6)) / 100 end) as add_to_threshold,
    greatest(0, case when whole_at is not null then ceil(raw_to_floor - relative_tolerance * need_floor)
                     else ceil(round(raw_to_floor * 100, 6)) / 100 end) as add_to_floor,
    add_unit, add_unit_zh
from gaps
