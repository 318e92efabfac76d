module sigwatch.test/testapp

go 1.26.0
