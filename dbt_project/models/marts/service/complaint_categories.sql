-- Tickets and complaints by category (kpi-catalog section 8 complaint_categories), a dense grid:
-- every month of int_date_spine x every ticket category seen (NULL category -> 'unspecified').
-- A ticket counts in the month of its opening business date (as service_daily); tickets opened
-- outside the spine do not appear. Response times and the SLA flag are int_tickets_measured's:
-- the median is over the tickets with a first response; sla_resolved_rate = tickets resolved
-- within var('ticket_sla_hours') / all tickets (an unresolved ticket does not meet the SLA).

with

spine as (

    select distinct month_start from {{ ref('int_date_spine') }}

),

tickets as (

    select
        *,
        coalesce(category, 'unspecified') as ticket_category,
        cast({{ dbt.date_trunc('month', 'opened_date') }} as date) as month_start
    from {{ ref('int_tickets_measured') }}

),

categories as (

    select distinct ticket_category from tickets

),

monthly as (

    select
        month_start,
        ticket_category,
        count(*) as tickets,
        sum(case when is_complaint then 1 else 0 end) as complaints,
        {{ continuous_quantile('first_response_hours', 0.5) }} as median_first_response_hours,
        sum(case when is_resolved_within_sla then 1 else 0 end) as resolved_within_sla
    from tickets
    group by month_start, ticket_category

),

grid as (

    select
        spine.month_start,
        categories.ticket_category,
        coalesce(monthly.tickets, 0) as tickets,
        coalesce(monthly.complaints, 0) as complaints,
        monthly.median_first_response_hours,
        coalesce(monthly.resolved_within_sla, 0) as resolved_within_sla
    from spine
    cross join categories
    left join monthly
        on
            spine.month_start = monthly.month_start
            and categories.ticket_category = monthly.ticket_category

),

with_month_totals as (

    select
        *,
        sum(tickets) over (partition by month_start) as month_tickets,
        sum(complaints) over (partition by month_start) as month_complaints
    from grid

),

final as (

    select
        month_start as month,  -- noqa: RF04
        ticket_category as category,
        cast(tickets as {{ dbt.type_bigint() }}) as tickets,
        cast(complaints as {{ dbt.type_bigint() }}) as complaints,
        {{ safe_divide('complaints', 'month_complaints') }} as complaint_share,
        cast(median_first_response_hours as double) as median_first_response_hours,
        {{ safe_divide('resolved_within_sla', 'tickets') }} as sla_resolved_rate,
        cast(resolved_within_sla as {{ dbt.type_bigint() }}) as resolved_within_sla,
        {{ safe_divide('tickets', 'month_tickets') }} as ticket_share
    from with_month_totals

)

select * from final
