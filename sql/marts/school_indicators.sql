-- school_indicators: one row per unit, its seven indicators and the school rule.
--
-- School rule (学校达标): at least min_indicators_met (6) of the seven meet their threshold
-- and none is below floor_share (85%) of its threshold. Undecidable (null) when any of
-- the seven is undefined or has no threshold. "以上" means the threshold itself passes; the
-- relative tolerance only absorbs binary rounding (85% × 4.2 must not fail by a last bit).
--
-- Each unit meets its province's thresholds in its own row: the thresholds, one column per
-- indicator, are joined to the unit, and a template loop over the seven (quality_indicators,
-- from the contract; see sql/README.md) pairs each value with its threshold. The long form
-- (a row per unit and indicator, grouped back to the unit) took about 1.6 times as long.
with u as (
    select * from unit_indicators where year = getvariable('run_year')
),

-- one row per province and level, one column per quality indicator: its threshold
thresholds as (
    pivot (select province_code, level, indicator, threshold from policy_level_thresholds)
    on indicator in ({% for i in quality_indicators %}'{{ i }}'{{ ", " if not loop.last }}{% endfor %})
    using any_value(threshold)
    group by province_code, level
),

-- each of the seven against its threshold and its floor, in the unit's own row
judged as (
    select
        u.year, u.school_id, u.level,
        p.min_indicators_met,
        {%- for i in quality_indicators %}
        u.{{ i }},
        u.{{ i }} >= t.{{ i }} * (1 - p.relative_tolerance) as meets_{{ i }},
        u.{{ i }} >= p.floor_share * t.{{ i }} * (1 - p.relative_tolerance) as above_floor_{{ i }},
        u.{{ i }} / t.{{ i }} as share_{{ i }},
        u.{{ i }} is null or t.{{ i }} is null as undefined_{{ i }},
        {%- endfor %}
    from u
    -- left joins: a unit without its province's policy stays, its verdict undecided
    left join thresholds t on t.province_code = u.province_code and t.level = u.level
    left join policy_province p on p.province_code = u.province_code
),

-- the school rule, over the seven columns
rule as (
    select
        year, school_id, level,
        {%- for i in quality_indicators %}
        {{ i }},
        {%- endfor %}
        ({% for i in quality_indicators %}coalesce(meets_{{ i }}::int, 0){{ " + " if not loop.last }}{% endfor %})::int
            as indicators_met,
        -- least() passes over nulls: the lowest share among the indicators that have one
        least({% for i in quality_indicators %}share_{{ i }}{{ ", " if not loop.last }}{% endfor %})
            as lowest_share_of_threshold,
        case
            when {% for i in quality_indicators %}undefined_{{ i }}{{ " or " if not loop.last }}{% endfor %} then null
            else indicators_met >= min_indicators_met
                 and {% for i in quality_indicators %}above_floor_{{ i }}{{ " and " if not loop.last }}{% endfor %}
        end as meets_school_standard
    from judged
)

select
    s.year, s.province, s.province_code, s.county_code, s.county_name, s.school_id, s.school_name,
    s.school_type, s.ownership, s.location, s.level, s.unit_kind, s.students,
    {%- for i in quality_indicators %}
    r.{{ i }},
    {%- endfor %}
    r.indicators_met, r.lowest_share_of_threshold, r.meets_school_standard
from school_units s
join rule r using (year, school_id, level)
where s.year = getvariable('run_year')
