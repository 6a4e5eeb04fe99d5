plugins {
    id("com.android.application")
    kotlin("android")
}

android {
    namespace = "com.acme.shop"
    compileSdk = 34

    defaultConfig {
        applicationId = "com.acme.shop"
        minSdk = 26
        targetSdk = 34
        versionCode = 412
        versionName = "4.12.0"
        buildConfigField("String", "API_BASE_URL", "\"https://api.acme.io\"")
        buildConfigField("String", "ANALYTICS_WRITE_KEY", "\"@@chars:android-segment:32@@\"")
        manifestPlaceholders["mapsApiKey"] = project.findProperty("MAPS_API_KEY") ?: ""
    }

    signingConfigs {
        create("release") {
            storeFile = file(project.property("RELEASE_STORE_FILE") as String)
            storePassword = project.property("RELEASE_STORE_PASSWORD") as String
            keyAlias = project.property("RELEASE_KEY_ALIAS") as String
            keyPassword = System.getenv("RELEASE_KEY_PASSWORD")
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            signingConfig = signingConfigs.getByName("release")
        }
    }
}
