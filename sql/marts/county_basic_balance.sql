-- county_basic_balance: basic balance (基本均衡, 教督〔2012〕3号) per county and level, for
-- counties on the way. The eight indicators' CVs (from county_variation), the composite
-- (综合差异系数) as their plain mean, and the verdict: composite ≤ 0.65 primary, ≤ 0.55 junior.
-- The composite is undefined when any of the eight is (e.g. books not reported).
with cv as (
    select * from county_variation
    where year = getvariable('run_year') and method = 'basic_2012'
)

select
    cv.year, any_value(cv.province) as province, cv.province_code, cv.county_code,
    any_value(cv.county_name) as county_name, cv.level,
    {%- for i in basic_indicators %}
    max(cv.cv) filter (where indicator = '{{ i }}') as cv_{{ i }},
    {%- endfor %}
    count(cv.cv)::int as indicators_with_cv,
    case when count(cv.cv) = (select count(*) from dim_indicators where method = 'basic_2012')
         then avg(cv.cv::decimal(38, 15))::double end as composite_cv,
    any_value(case cv.level when 'primary' then p.basic_composite_primary else p.basic_composite_junior end)
        as composite_threshold,
    case when count(cv.cv) = (select count(*) from dim_indicators where method = 'basic_2012')
         then avg(cv.cv::decimal(38, 15))::double <= any_value(case cv.level when 'primary' then p.basic_composite_primary
                                                     else p.basic_composite_junior end)
                            * (1 + any_value(p.relative_tolerance))
    end as composite_meets,
    max(cv.units)::int as units
from cv
join policy_province p on p.province_code = cv.province_code
group by cv.year, cv.province_code, cv.county_code, cv.level
