terraform {
  required_version = ">= 1.6"
  backend "s3" {
    bucket = "acme-terraform-state"
    key    = "platform/prod.tfstate"
    region = "eu-west-1"
  }
}

provider "aws" {
  region = var.region
}

provider "datadog" {
  api_key = "@@hex:platform-datadog-api:32@@"
  app_key = var.datadog_app_key
}

resource "aws_db_instance" "orders" {
  identifier             = "orders-prod"
  engine                 = "postgres"
  engine_version         = "16.3"
  instance_class         = "db.r6g.large"
  allocated_storage      = 200
  username               = "orders_admin"
  password               = "Tf!9xLq2#Wm7Zr4K"
  db_subnet_group_name   = aws_db_subnet_group.private.name
  vpc_security_group_ids = [aws_security_group.db.id]
  skip_final_snapshot    = false
}

resource "aws_db_instance" "analytics" {
  identifier                  = "analytics-prod"
  engine                      = "postgres"
  instance_class              = "db.r6g.xlarge"
  allocated_storage           = 500
  username                    = "analytics_admin"
  manage_master_user_password = true
  password                    = random_password.analytics.result
}

resource "random_password" "analytics" {
  length  = 32
  special = true
}

variable "datadog_app_key" {
  type      = string
  sensitive = true
}
