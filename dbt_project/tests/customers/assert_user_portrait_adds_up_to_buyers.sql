-- For every dimension of user_portrait, the buyers of its segments add up to all buyers
-- (customers with a paid order). Returns the dimensions that do not.

with

portrait as (

    select
        dimension,
        sum(buyers) as buyers
    from {{ ref('user_portrait') }}
    group by dimension

),

buyers as (

    select count(*) as buyers from {{ ref('int_customer_facts') }} where is_buyer

)

select
    portrait.dimension,
    portrait.buyers,
    buyers.buyers as all_buyers
from portrait
cross join buyers
where portrait.buyers != buyers.buyers
