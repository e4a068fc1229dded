-- county_progress: per county and year, how far to 优质均衡 and when it would get there
-- (all years at once, after county_items).
--   projected_year: the year every failing item would pass at its current pace (the latest of
--   the items' projections); null when an item never would (not improving, a yes/no item, a
--   veto, or only one year of data), with the reason in projection_note.
--   on_track_YYYY: passes now, or projected to pass by that year; false when it never would at
--   the current pace; null when data are missing. One for each of the national plan's checkpoint
--   years (checkpoint_years: contract.CHECKPOINT_YEARS).
with t as (
    select * from county_items
),

agg as (
    select
        year, province_code, county_code,
        count(*) filter (where verdict = 'fail') as items_failing,
        count(*) filter (where verdict = 'insufficient_data') as items_insufficient,
        max(projected_pass_year) filter (where verdict = 'fail') as latest_projection,
        count(*) filter (where verdict = 'fail' and projected_pass_year is null) as failing_without_projection,
        list(item order by item) filter (where verdict = 'fail' and projected_pass_year is null)
            as items_not_on_pace
    from t
    group by all
)

select
    s.year, s.province, s.province_code, s.county_code, s.county_name, s.status,
    a.items_failing::int as items_failing,
    a.items_insufficient::int as items_insufficient,
    case
        when s.status = 'quality_balanced' then s.year
        when a.items_failing > 0 and a.failing_without_projection = 0 then a.latest_projection
    end as projected_year,
    case
        when s.status = 'quality_balanced' then 'passes now / 已达到优质均衡'
        when a.items_failing = 0 then 'insufficient data / 数据不足，无法判断'
        when a.failing_without_projection = 0
            then 'at current pace by ' || a.latest_projection || ' / 按当前进度预计 ' || a.latest_projection || ' 年达到'
        else 'not at current pace / 按当前进度无法达到: ' || array_to_string(a.items_not_on_pace, ', ')
    end as projection_note,
    {%- for y in checkpoint_years %}
    case
        when s.status = 'quality_balanced' then true
        when a.items_failing > 0 and a.failing_without_projection = 0 then a.latest_projection <= {{ y }}
        when a.items_failing > 0 then false
    end as on_track_{{ y }}{{ "," if not loop.last }}
    {%- endfor %}
from county_scorecard s
join agg a using (year, province_code, county_code)
