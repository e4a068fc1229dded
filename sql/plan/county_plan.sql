-- county_plan (县域达标方案): one row per county whose resource part does not pass, with what its
-- plan adds (physical quantities first, yuan second) and what no resource addition fixes.
--
-- Facilities are counted once per school: a combined school's sections show what the whole
-- school adds (school_add_amount) on each section row. Capital and recurring costs stay apart;
-- choice_weight (capital + recurring × the policy's years) only ranks counties, it is not a cost.
-- Sums are exact (fixed-point, as in county_variation.sql): a parallel sum of doubles can differ in
-- its last bits between runs, and a rerun must publish the same bytes.
with counties as (
    select * from county_scorecard
    where year = getvariable('run_year') and resource_ok is distinct from true
),

plan as (
    select * from unit_plan where year = getvariable('run_year')
),

-- a facility's whole-school addition appears on each of the school's section rows: once per school
school_adds as (
    select county_code, indicator, school_id, any_value(add_unit) as add_unit,
           max(case when add_unit = 'teachers' then null else school_add_amount end) as school_add,
           sum((case when add_unit = 'teachers' then add_amount end)::decimal(38, 12))::double as teachers
    from plan
    group by all
),

totals as (
    select
        county_code,
        {%- for r in resources if r.facility %}
        coalesce((sum(school_add::decimal(38, 12)) filter (where indicator = '{{ r.indicator }}'))::double, 0) as {{ r.added }},
        {%- endfor %}
        coalesce(sum(teachers::decimal(38, 12))::double, 0) as teachers_added
    from school_adds
    group by county_code
),

costs as (
    select
        county_code,
        {%- for r in resources if not r.facility %}
        (sum(add_amount::decimal(38, 12)) filter (where indicator = '{{ r.indicator }}'))::double as {{ r.added }},
        {%- endfor %}
        coalesce((sum(cost_yuan::decimal(38, 12)) filter (where cost_kind = 'capital'))::double, 0) as capital_cost_yuan,
        coalesce((sum(cost_yuan::decimal(38, 12)) filter (where cost_kind = 'recurring_per_year'))::double, 0) as recurring_cost_yuan_per_year,
        bool_or(cost_is_assumption) as costs_include_assumptions,
        bool_and(proven_cheapest) as proven_cheapest,
        max(cheapest_within) as cheapest_within,
        bool_and(plan_passes) as plan_passes,
        count(distinct school_id || '/' || level) as units_changed
    from plan
    group by county_code
),

-- units without a value for one of the seven cannot be planned for (their county is not planned)
unplannable as (
    select county_code, count(*) as units_without_values
    from school_units
    where year = getvariable('run_year')
      and ({% for r in resources %}{{ r.column }} is null{{ " or " if not loop.last }}{% endfor %})
    group by county_code
),

-- what resources cannot fix: every item that does not pass, except a resource item that fails
-- (the school rule and the CVs); data still missing (quarantined schools) is listed too
other_items as (
    select county_code,
           list(item order by item) as non_resource_failing_items,
           list(item_name order by item) as non_resource_failing_item_names
    from county_item_verdicts
    where year = getvariable('run_year') and verdict <> 'pass'
      and not (area = 'resource' and verdict = 'fail')
    group by county_code
),

weights as (
    select province_code, any_value(recurring_years_for_choice) as recurring_years_for_choice
    from policy_plan_costs group by province_code
)

select
    c.year, c.province, c.province_code, c.county_code, c.county_name, c.status,
    coalesce(u.units_without_values, 0) = 0 and coalesce(k.plan_passes, true) as feasible,
    coalesce(k.proven_cheapest, true) as proven_cheapest,
    coalesce(k.cheapest_within, 0) as cheapest_within,
    coalesce(k.units_changed, 0)::int as units_changed,
    coalesce(t.teachers_added, 0) as teachers_added,
    {%- for r in resources %}
    coalesce({{ "t" if r.facility else "k" }}.{{ r.added }}, 0) as {{ r.added }},
    {%- endfor %}
    coalesce(k.capital_cost_yuan, 0) as capital_cost_yuan,
    coalesce(k.recurring_cost_yuan_per_year, 0) as recurring_cost_yuan_per_year,
    coalesce(k.costs_include_assumptions, false) as costs_include_assumptions,
    coalesce(k.capital_cost_yuan, 0) + coalesce(k.recurring_cost_yuan_per_year, 0) * w.recurring_years_for_choice
        as choice_weight,
    coalesce(o.non_resource_failing_items, []::varchar[]) as non_resource_failing_items,
    coalesce(o.non_resource_failing_item_names, []::varchar[]) as non_resource_failing_item_names,
    coalesce(u.units_without_values, 0) = 0 and coalesce(k.plan_passes, true)
        and coalesce(len(o.non_resource_failing_items), 0) = 0 as reachable_by_resources
from counties c
left join totals t using (county_code)
left join costs k using (county_code)
left join unplannable u using (county_code)
left join other_items o using (county_code)
join weights w using (province_code)
