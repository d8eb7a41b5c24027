# Every server in the class (students and instructor): the course, and ngshare as the exchange.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "gpt2-course"
c.Execute.timeout = 300
import ngshare_exchange  # noqa: E402

ngshare_exchange.configureExchange(c, "http://proxy-public/services/ngshare")  # no trailing slash
