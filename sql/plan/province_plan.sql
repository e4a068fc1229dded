-- province_plan (全省达标路径): per province, year and next milestone, how many more counties must
-- pass to reach the target share, which not-yet counties resources alone can bring over the line,
-- and the cheapest set of them that meets the target.
--
--   counties_needed = ceil(target_share × counties) − counties already at 优质均衡 (not below 0)
--   reachable county: its plan is feasible and nothing but resource items fails (county_plan)
--   cheapest set: the reachable counties in order of choice_weight (capital + recurring × the
--     policy's years), as many as needed. Each county's cost is its own, so the cheapest k
--     counties are the k with the least weight.
-- When fewer counties are reachable than needed, reachable is false and the note says so.
with progress as (
    select * from province_progress where next_milestone_year is not null
),

ranked as (
    select
        p.year, p.province_code, c.county_code, c.capital_cost_yuan, c.recurring_cost_yuan_per_year,
        row_number() over (partition by p.year, p.province_code
                           order by c.choice_weight, c.county_code) as rank
    from progress p
    join county_plan c on c.year = p.year and c.province_code = p.province_code
    where c.reachable_by_resources
),

needs as (
    select
        p.*,
        greatest(0, ceil(p.next_milestone_target_share * p.counties - 1e-9)::int - p.counties_quality_balanced)
            as counties_needed,
        (select count(*) from ranked r where r.year = p.year and r.province_code = p.province_code)
            as counties_reachable,
        (select count(*) from county_plan c where c.year = p.year and c.province_code = p.province_code
             and not c.reachable_by_resources) as counties_blocked
    from progress p
),

chosen as (
    select
        n.year, n.province_code,
        list(r.county_code order by r.rank) filter (where r.rank <= n.counties_needed) as cheapest_set,
        coalesce((sum(r.capital_cost_yuan::decimal(38, 12)) filter (where r.rank <= n.counties_needed))::double, 0) as capital,
        coalesce((sum(r.recurring_cost_yuan_per_year::decimal(38, 12)) filter (where r.rank <= n.counties_needed))::double, 0) as recurring
    from needs n
    left join ranked r on r.year = n.year and r.province_code = n.province_code
    group by all
)

select
    n.year, n.province, n.province_code,
    n.next_milestone_year as milestone_year,
    n.next_milestone_target_share as target_share,
    n.target_is_assumption,
    n.counties::int as counties,
    n.counties_quality_balanced::int as counties_quality_balanced,
    n.counties_needed::int as counties_needed,
    n.counties_reachable::int as counties_reachable,
    n.counties_blocked::int as counties_blocked,
    n.counties_reachable >= n.counties_needed as reachable,
    case when n.counties_reachable >= n.counties_needed then coalesce(c.cheapest_set, []::varchar[]) end
        as cheapest_set,
    case when n.counties_reachable >= n.counties_needed then c.capital end as cheapest_set_capital_cost_yuan,
    case when n.counties_reachable >= n.counties_needed then c.recurring end
        as cheapest_set_recurring_cost_yuan_per_year,
    case
        when n.counties_needed = 0 then '已达到' || n.next_milestone_year || '年目标比例，无需新增达标县。'
        when n.counties_reachable >= n.counties_needed then
            '到' || n.next_milestone_year || '年还需新增' || n.counties_needed || '个优质均衡县；只差资源配置的县有'
            || n.counties_reachable || '个，按方案投入最少的' || n.counties_needed || '个县即可达到目标。'
        else '仅靠增加资源无法达到' || n.next_milestone_year || '年目标：还需新增' || n.counties_needed
            || '个优质均衡县，但只差资源配置的县只有' || n.counties_reachable || '个；另有'
            || n.counties_blocked || '个县存在资源以外的未达标或缺数据项目，须先解决。'
    end as note
from needs n
left join chosen c using (year, province_code)
