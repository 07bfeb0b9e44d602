select * from marts.user_portrait
